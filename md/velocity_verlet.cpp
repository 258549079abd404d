#include "otfgp/md/velocity_verlet.hpp"

#include <cfloat>

#include "otfgp/core/units.hpp"

namespace otfgp::md {

static_assert(force_to_acceleration * units::amu_a2_per_fs2_in_ev > 0.999999999999 &&
                  force_to_acceleration * units::amu_a2_per_fs2_in_ev < 1.000000000001,
              "force_to_acceleration must be the inverse of amu Å²/fs² in eV");

Matrix3 Matrix3::from(const Eigen::Matrix3d& matrix) {
  Matrix3 result;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) result.m[a][b] = matrix(a, b);
  return result;
}

Eigen::Matrix3d KineticTensor::matrix() const {
  Eigen::Matrix3d m;
  m << mvv[0], mvv[5], mvv[4], mvv[5], mvv[1], mvv[3], mvv[4], mvv[3], mvv[2];
  return m;
}

KineticTensor KineticTensor::scaled(double factor) const {
  KineticTensor result;
  for (int k = 0; k < 6; ++k) result.mvv[k] = mvv[k] * factor * factor;
  return result;
}

void Snapshot::allocate(int natoms) {
  if (x.is_allocated() && static_cast<int>(x.extent(0)) == natoms) return;
  x = VecView(Kokkos::ViewAllocateWithoutInitializing("Snapshot::x"), natoms);
  v = VecView(Kokkos::ViewAllocateWithoutInitializing("Snapshot::v"), natoms);
  f = VecView(Kokkos::ViewAllocateWithoutInitializing("Snapshot::f"), natoms);
}

Snapshot snapshot_target(Snapshot* capture, int natoms) {
  if (!capture) return Snapshot();
  capture->allocate(natoms);
  return *capture;
}

namespace {

template <bool Barostat>
struct FirstHalfKernel {
  VecView x, v, f;
  ScalarView mass;
  FirstHalf step;
  bool capture;
  VecView x0, v0, f0;

  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    double vi[3], fi[3], xi[3];
    for (int d = 0; d < 3; ++d) {
      vi[d] = v(i, d);
      fi[d] = f(i, d);
      xi[d] = x(i, d);
    }
    if (capture)
      for (int d = 0; d < 3; ++d) {
        x0(i, d) = xi[d];
        v0(i, d) = vi[d];
        f0(i, d) = fi[d];
      }
    for (int d = 0; d < 3; ++d) vi[d] = step.velocity_scale * (vi[d] - step.velocity_shift[d]);
    if (Barostat) {
      double t[3];
      step.velocity_transform.apply(vi, t);
      for (int d = 0; d < 3; ++d) vi[d] = t[d];
    }
    const double kick = 0.5 * step.timestep * force_to_acceleration / mass(i);
    for (int d = 0; d < 3; ++d) vi[d] += kick * fi[d];
    if (Barostat) {
      double a[3], b[3];
      step.position_transform.apply(xi, a);
      step.drift_transform.apply(vi, b);
      for (int d = 0; d < 3; ++d) xi[d] = a[d] + b[d];
    } else {
      for (int d = 0; d < 3; ++d) xi[d] += step.timestep * vi[d];
    }
    for (int d = 0; d < 3; ++d) {
      v(i, d) = vi[d];
      x(i, d) = xi[d];
    }
  }
};

}  // namespace

void first_half(AtomState& state, const FirstHalf& step, Snapshot* capture) {
  const bool take = capture != nullptr;
  const Snapshot target = snapshot_target(capture, state.natoms);
  const VecView x0 = target.x, v0 = target.v, f0 = target.f;
  if (step.barostat) {
    FirstHalfKernel<true> kernel{state.x, state.v, state.f, state.mass, step, take, x0, v0, f0};
    Kokkos::parallel_for("VelocityVerlet::first_half", RangePolicy(0, state.natoms), kernel);
  } else {
    FirstHalfKernel<false> kernel{state.x, state.v, state.f, state.mass, step, take, x0, v0, f0};
    Kokkos::parallel_for("VelocityVerlet::first_half", RangePolicy(0, state.natoms), kernel);
  }
}

void second_half(AtomState& state, double timestep, const Matrix3* velocity_transform,
                 const EnergyVirialView& potential, const ForceCheckView& into,
                 const DriftCheck* next) {
  const VecView x = state.x, v = state.v, f = state.f;
  const bool predict = next != nullptr && !velocity_transform;
  const Box box = predict ? next->box : Box();
  const VecView s0 = predict ? next->s0 : VecView();
  const ScalarView mass = state.mass;
  const bool transform = velocity_transform != nullptr;
  const Matrix3 m = transform ? *velocity_transform : Matrix3();
  const double half = 0.5 * timestep * force_to_acceleration;
  Kokkos::parallel_reduce(
      "VelocityVerlet::second_half", RangePolicy(0, state.natoms),
      KOKKOS_LAMBDA(int i, ForceCheck& sum) {
        if (i == 0) {
          sum.potential += potential();
          const double energy = sum.potential.energy;
          if (!(energy <= DBL_MAX && energy >= -DBL_MAX)) sum.energy_not_finite = 1;
        }
        double vi[3], fi[3];
        for (int d = 0; d < 3; ++d) fi[d] = f(i, d);
        const double f2 = fi[0] * fi[0] + fi[1] * fi[1] + fi[2] * fi[2];
        // NaN and ∞ fail this comparison.
        if (!(f2 <= DBL_MAX))
          ++sum.non_finite;
        else if (f2 > sum.max_force_squared)
          sum.max_force_squared = f2;
        const double kick = half / mass(i);
        for (int d = 0; d < 3; ++d) vi[d] = v(i, d) + kick * fi[d];
        if (transform) {
          double t[3];
          m.apply(vi, t);
          for (int d = 0; d < 3; ++d) vi[d] = t[d];
        }
        for (int d = 0; d < 3; ++d) v(i, d) = vi[d];
        sum.kinetic.add_atom(mass(i), vi);
        if (predict) {
          // first_half's arithmetic, term for term, so the positions are its own.
          double r[3];
          for (int d = 0; d < 3; ++d) r[d] = x(i, d) + timestep * (vi[d] + kick * fi[d]);
          sum.next_moved_squared =
              kmath::fmax(sum.next_moved_squared, displacement_squared_since(box, r, i, s0));
        }
      },
      Kokkos::Sum<ForceCheck, MemSpace>(into));
}

KineticTensor kinetic_tensor(const AtomState& state) {
  const VecView v = state.v;
  const ScalarView mass = state.mass;
  KineticTensor total;
  Kokkos::parallel_reduce(
      "VelocityVerlet::kinetic_tensor", RangePolicy(0, state.natoms),
      KOKKOS_LAMBDA(int i, KineticTensor& sum) {
        const double vi[3] = {v(i, 0), v(i, 1), v(i, 2)};
        sum.add_atom(mass(i), vi);
      },
      Kokkos::Sum<KineticTensor>(total));
  return total;
}

void scale_velocities(AtomState& state, double factor) {
  const VecView v = state.v;
  Kokkos::parallel_for(
      "VelocityVerlet::scale_velocities", RangePolicy(0, state.natoms), KOKKOS_LAMBDA(int i) {
        for (int d = 0; d < 3; ++d) v(i, d) *= factor;
      });
}

Eigen::Vector3d total_momentum(const AtomState& state, double* total_mass) {
  const VecView v = state.v;
  const ScalarView mass = state.mass;
  MomentumSum total;
  Kokkos::parallel_reduce(
      "VelocityVerlet::total_momentum", RangePolicy(0, state.natoms),
      KOKKOS_LAMBDA(int i, MomentumSum& sum) {
        for (int d = 0; d < 3; ++d) sum.momentum[d] += mass(i) * v(i, d);
        sum.mass += mass(i);
      },
      Kokkos::Sum<MomentumSum>(total));
  if (total_mass) *total_mass = total.mass;
  return Eigen::Vector3d(total.momentum[0], total.momentum[1], total.momentum[2]);
}

void remove_net_momentum(AtomState& state) {
  double total_mass = 0.0;
  const Eigen::Vector3d p = total_momentum(state, &total_mass);
  if (!(total_mass > 0.0)) return;
  const double u0 = p[0] / total_mass, u1 = p[1] / total_mass, u2 = p[2] / total_mass;
  const VecView v = state.v;
  Kokkos::parallel_for(
      "VelocityVerlet::remove_net_momentum", RangePolicy(0, state.natoms), KOKKOS_LAMBDA(int i) {
        v(i, 0) -= u0;
        v(i, 1) -= u1;
        v(i, 2) -= u2;
      });
}

int find_bad_force(const AtomState& state, double limit) {
  const VecView f = state.f;
  const double limit2 = limit * limit;
  int first = state.natoms;
  Kokkos::parallel_reduce(
      "VelocityVerlet::find_bad_force", RangePolicy(0, state.natoms),
      KOKKOS_LAMBDA(int i, int& lowest) {
        const double f2 = f(i, 0) * f(i, 0) + f(i, 1) * f(i, 1) + f(i, 2) * f(i, 2);
        // As second_half: NaN, ∞ and a force whose square overflows count.
        if (!(f2 <= DBL_MAX && f2 <= limit2) && i < lowest) lowest = i;
      },
      Kokkos::Min<int>(first));
  return first < state.natoms ? first : -1;
}

}  // namespace otfgp::md
