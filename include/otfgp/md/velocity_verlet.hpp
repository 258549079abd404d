#pragma once
// The per-atom kernels of a velocity-Verlet step and the reductions over the
// velocities, shared by every ensemble. The thermostats and the barostat only
// choose the factors these kernels apply. Units: Å, Å/fs, eV/Å, amu, fs, eV.

#include <Eigen/Core>
#include <array>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp::md {

// A 3×3 matrix that kernels can copy (Eigen types stay on the host).
struct Matrix3 {
  double m[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};

  static Matrix3 from(const Eigen::Matrix3d& matrix);
  // Row vector times matrix: out = in · M.
  KOKKOS_INLINE_FUNCTION void apply(const double in[3], double out[3]) const {
    for (int d = 0; d < 3; ++d) out[d] = in[0] * m[0][d] + in[1] * m[1][d] + in[2] * m[2][d];
  }
};

// Σᵢ mᵢ vᵢ⊗vᵢ (eV) in Voigt order xx yy zz yz xz xy; its trace is twice the kinetic energy.
struct KineticTensor {
  double mvv[6] = {0, 0, 0, 0, 0, 0};

  KOKKOS_INLINE_FUNCTION KineticTensor() = default;
  KOKKOS_INLINE_FUNCTION KineticTensor& operator+=(const KineticTensor& other) {
    for (int k = 0; k < 6; ++k) mvv[k] += other.mvv[k];
    return *this;
  }
  // Adds m v⊗v of one atom (mass in amu, velocity in Å/fs).
  KOKKOS_INLINE_FUNCTION void add_atom(double mass, const double v[3]) {
    const double e = mass * units::amu_a2_per_fs2_in_ev;
    mvv[0] += e * v[0] * v[0];
    mvv[1] += e * v[1] * v[1];
    mvv[2] += e * v[2] * v[2];
    mvv[3] += e * v[1] * v[2];
    mvv[4] += e * v[0] * v[2];
    mvv[5] += e * v[0] * v[1];
  }
  KOKKOS_INLINE_FUNCTION double kinetic_energy() const { return 0.5 * (mvv[0] + mvv[1] + mvv[2]); }
  Eigen::Matrix3d matrix() const;
  KineticTensor scaled(double factor) const;  // the tensor after v ← factor · v
};

// Σᵢ mᵢ vᵢ (amu·Å/fs) and Σᵢ mᵢ (amu), reduced together.
struct MomentumSum {
  double momentum[3] = {0, 0, 0};
  double mass = 0.0;

  KOKKOS_INLINE_FUNCTION MomentumSum() = default;
  KOKKOS_INLINE_FUNCTION MomentumSum& operator+=(const MomentumSum& other) {
    for (int d = 0; d < 3; ++d) momentum[d] += other.momentum[d];
    mass += other.mass;
    return *this;
  }
};

// What the second half step learns about the new forces and energy, reduced
// with the kinetic tensor.
struct ForceCheck {
  KineticTensor kinetic;
  // The potential's energy and virial of the new positions, as they are on
  // the device (the reduction adds them once, to zeros: the same numbers),
  // so that the step's one copy brings them to the host too (the barostat
  // reads the virial every step).
  EnergyVirial potential;
  double max_force_squared = 0.0;  // (eV/Å)²
  int non_finite = 0;              // atoms whose force is NaN or infinite
  int energy_not_finite = 0;       // 1 when the potential energy is NaN or infinite
  // Set on the host by Integrator::final_integrate at the end of the step: 1
  // when a thermostat's or barostat's variables, or else the kinetic energy,
  // turned NaN or infinite.
  int kinetic_not_finite = 0;
  int extended_not_finite = 0;
  // With a DriftCheck: the square of the largest displacement since the
  // neighbour list's build that the next step's drift will give an atom (Å²).
  double next_moved_squared = 0.0;

  KOKKOS_INLINE_FUNCTION ForceCheck() = default;
  KOKKOS_INLINE_FUNCTION ForceCheck& operator+=(const ForceCheck& other) {
    kinetic += other.kinetic;
    potential += other.potential;
    max_force_squared =
        max_force_squared > other.max_force_squared ? max_force_squared : other.max_force_squared;
    non_finite += other.non_finite;
    energy_not_finite += other.energy_not_finite;
    next_moved_squared = kmath::fmax(next_moved_squared, other.next_moved_squared);
    return *this;
  }
  // True when the forces are finite and within `limit` (eV/Å), and the
  // energy and the integrator's variables finite.
  KOKKOS_INLINE_FUNCTION bool passes(double limit) const {
    return non_finite == 0 && energy_not_finite == 0 && kinetic_not_finite == 0 &&
           extended_not_finite == 0 && !(max_force_squared > limit * limit);
  }
};
using ForceCheckView = Kokkos::View<ForceCheck, MemSpace>;
using KineticView = Kokkos::View<KineticTensor, MemSpace>;

// Copies of x, v, f and the cell taken at the start of a step, so that a step
// that blows up can hand back the last good frame.
struct Snapshot {
  VecView x, v, f;
  Box box;
  long step = -1;

  void allocate(int natoms);
};

// Where a kernel writes the snapshot: `capture` allocated for natoms atoms, or
// empty views when there is nothing to capture.
Snapshot snapshot_target(Snapshot* capture, int natoms);

// The first half of a step, in this order per atom:
//   v ← velocity_scale · (v − velocity_shift)       (thermostat factor, Langevin momentum fix)
//   v ← v · velocity_transform                       (barostat coupling, when `barostat`)
//   v ← v + (dt/2) f/m                               (half kick)
//   x ← x · position_transform + v · drift_transform (barostat), or x ← x + dt·v
// and, when `capture` is set, the values of x, v, f before any of it go to the
// snapshot (its cell and step are the caller's to set).
struct FirstHalf {
  double timestep = 1.0;  // fs
  double velocity_scale = 1.0;
  double velocity_shift[3] = {0, 0, 0};
  bool barostat = false;
  Matrix3 velocity_transform;
  Matrix3 position_transform;
  Matrix3 drift_transform;
};
void first_half(AtomState& state, const FirstHalf& step, Snapshot* capture);

// Where the next step's drift will take the atoms, against the neighbour
// list's fractional positions at its last build (s0): in NVE the next first
// half is a plain kick and drift, x + dt (v + (dt/2) f/m), known at the end of
// this step, so its displacement check needs no pass of its own.
struct DriftCheck {
  Box box;
  VecView s0;
};

// The second half: v ← (v + (dt/2) f/m) · velocity_transform (when given);
// reduces the new kinetic tensor and the force check (with `potential`'s
// energy and virial, the check of that energy and, with `next`, the next
// drift's displacement) into `into` on the device, without waiting for them.
void second_half(AtomState& state, double timestep, const Matrix3* velocity_transform,
                 const EnergyVirialView& potential, const ForceCheckView& into,
                 const DriftCheck* next = nullptr);

KineticTensor kinetic_tensor(const AtomState& state);
// v ← factor · v.
void scale_velocities(AtomState& state, double factor);
// Σ m v (amu·Å/fs) and the total mass (amu).
Eigen::Vector3d total_momentum(const AtomState& state, double* total_mass = nullptr);
// Subtracts the centre-of-mass velocity from every atom.
void remove_net_momentum(AtomState& state);
// Index of the first atom whose force is not finite or exceeds `limit` (eV/Å); −1 if none.
int find_bad_force(const AtomState& state, double limit);

// 1 eV/(Å·amu) in Å/fs²: turns F/m into an acceleration.
inline constexpr double force_to_acceleration = 1.0 / 103.642696527;

}  // namespace otfgp::md

namespace Kokkos {
template <>
struct reduction_identity<otfgp::md::KineticTensor> {
  KOKKOS_FORCEINLINE_FUNCTION static otfgp::md::KineticTensor sum() {
    return otfgp::md::KineticTensor();
  }
};
template <>
struct reduction_identity<otfgp::md::MomentumSum> {
  KOKKOS_FORCEINLINE_FUNCTION static otfgp::md::MomentumSum sum() {
    return otfgp::md::MomentumSum();
  }
};
template <>
struct reduction_identity<otfgp::md::ForceCheck> {
  KOKKOS_FORCEINLINE_FUNCTION static otfgp::md::ForceCheck sum() { return otfgp::md::ForceCheck(); }
};
}  // namespace Kokkos
