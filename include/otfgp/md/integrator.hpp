#pragma once
// The time step as a symmetric Trotter product (Tuckerman et al. 2006, as
// LAMMPS fix nh orders it):
//   cell chain ½ · atom thermostat ½ · cell momentum ½ · barostat velocity
//   scaling ½ · kick ½ · drift (with cell dilation) 1 · [forces] · kick ½ ·
//   barostat velocity scaling ½ · cell momentum ½ · atom thermostat ½ · cell chain ½
// where absent pieces are identities: NVE is plain velocity Verlet, NVT adds a
// Langevin or Nosé–Hoover-chain thermostat, NPT the MTK barostat. The engine
// calls initial_integrate, moves the neighbour list, computes forces, and calls
// final_integrate. Velocities keep zero total momentum throughout, so
// temperatures count 3N − 3 degrees of freedom.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "otfgp/core/atom_state.hpp"
#include "otfgp/md/barostat.hpp"
#include "otfgp/md/settings.hpp"
#include "otfgp/md/thermostat.hpp"
#include "otfgp/md/velocity_verlet.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp::md {

class Integrator {
 public:
  Integrator(const EngineSettings& settings, int natoms);

  // First half of step number `step` (the step being made), from the forces
  // of the current positions, whose energy and virial on the host are
  // `potential` (the barostat's first momentum half step reads the virial).
  // Moves x, v and the cell; with `capture`, saves x, v, f as they were before.
  void initial_integrate(AtomState& state, long step, const EnergyVirial& potential,
                         Snapshot* capture);
  // Second half, after the forces of the new positions (`potential`: their
  // energy and virial on the device). The kinetic tensor, the force check
  // and the potential's totals are reduced on the device and copied here
  // once (the step's one wait after the forces): a failed check returns at
  // once, before the thermostat's half step; the barostat reads the virial
  // from it. With `next` (used only in NVE, where the next first half is a
  // plain kick and drift) the check also holds the displacement the next
  // drift will give (ForceCheck::next_moved_squared).
  ForceCheck final_integrate(AtomState& state, long step, const EnergyVirialView& potential,
                             const DriftCheck* next);
  // True when the next first half is a plain kick and drift (NVE).
  bool plain_drift() const { return !thermostat_ && !barostat_; }
  // The check of the last final_integrate, copied from the device.
  ForceCheck force_check() const;
  // Where the kinetic tensor of the current velocities is current: on the
  // host (kinetic(); after a step, copied with the force check) or in
  // device_kinetic() (after a step with device thermostat half steps).
  enum class KineticAt { host, device };
  KineticAt kinetic_at() const { return kinetic_at_; }
  const KineticView& device_kinetic() const { return kinetic_device_; }
  // extended_energy without a copy from the device: the host part, and the
  // thermostat's device_energy() to add to it on the device (an empty view
  // when the thermostat's share is in the host part).
  double extended_energy_host_part(double volume,
                                   Kokkos::View<const double, MemSpace>& device) const;

  // The kinetic tensor of the current velocities (kept up to date by the
  // steps; copied from the device when an NVE step left it there).
  const KineticTensor& kinetic() const;
  // Recomputes it from the velocities (after they were set from outside).
  void refresh_kinetic(const AtomState& state);
  double degrees_of_freedom() const { return dof_; }
  double temperature() const;  // K
  // The thermostats' and barostat's share of the conserved quantity (eV).
  double extended_energy(double volume) const;

  // Every integrator variable by name (chains, cell momentum, thermostat heat),
  // for restart files; restore_state takes back exactly what save_state gave.
  IntegratorVariables save_state() const;
  void restore_state(const IntegratorVariables& variables);

 private:
  // The thermostat's (unless it keeps it on the device) and the barostat's
  // share of the conserved quantity, on the host (eV).
  double host_extended_energy(double volume) const;

  EngineSettings settings_;
  double dof_;
  mutable KineticTensor kinetic_;
  mutable KineticAt kinetic_at_ = KineticAt::host;
  ForceCheckView check_;
  ForceCheckView::HostMirror check_host_;
  KineticView kinetic_device_;
  KineticView::HostMirror kinetic_host_;
  bool device_thermostat_ = false;          // the thermostat's half steps run on the device
  std::unique_ptr<Thermostat> thermostat_;  // the atom thermostat (none for NVE)
  std::optional<MtkBarostat> barostat_;
};

}  // namespace otfgp::md
