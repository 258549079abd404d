#include "support/radial_descriptor.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp::testing {

RadialDescriptor::RadialDescriptor(std::vector<int> species, int radial_functions, double cutoff,
                                   int two_body)
    : species_(std::move(species)),
      radial_functions_(radial_functions),
      cutoff_(cutoff),
      two_body_(two_body) {
  std::sort(species_.begin(), species_.end());
}

DescriptorValues RadialDescriptor::compute(const AtomState& state, const NeighborList& list,
                                           bool gradients) const {
  const auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.x);
  const auto type = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state.type);
  const NeighborView& view = list.view();
  const auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.offsets);
  const auto index = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.index);
  const auto image = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.image);
  const auto image_vector =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.image_vector);

  std::vector<int> own_species(state.species.size());
  for (std::size_t s = 0; s < state.species.size(); ++s) {
    const auto it = std::find(species_.begin(), species_.end(), state.species[s]);
    if (it == species_.end())
      throw Error("radial descriptor: species Z=" + std::to_string(state.species[s]) +
                  " not described");
    own_species[s] = static_cast<int>(it - species_.begin());
  }

  const int n = state.natoms, nr = radial_functions_, size = this->size();
  const double spacing = cutoff_ / (nr - 1), width = spacing;
  DescriptorValues out;
  out.size = size;
  out.species.resize(n);
  out.values = Eigen::MatrixXd::Zero(n, size);
  out.offsets.assign(1, 0);
  std::vector<std::array<double, 3>> pairs;
  std::vector<int> neighbors;
  std::vector<Eigen::VectorXd> dvalue_dr;
  for (int i = 0; i < n; ++i) {
    out.species[i] = own_species[type(i)];
    for (int k = offsets(i); k < offsets(i + 1); ++k) {
      const int j = index(k), m = image(k);
      std::array<double, 3> r;
      for (int d = 0; d < 3; ++d) r[d] = x(j, d) + image_vector(m, d) - x(i, d);
      const double distance = std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
      if (distance >= cutoff_) continue;
      const double fc = 0.5 * (std::cos(units::pi * distance / cutoff_) + 1.0);
      const double dfc = -0.5 * units::pi / cutoff_ * std::sin(units::pi * distance / cutoff_);
      const int block = own_species[type(j)] * nr;
      Eigen::VectorXd derivative = Eigen::VectorXd::Zero(size);
      for (int q = 0; q < nr; ++q) {
        const double t = (distance - q * spacing) / width;
        const double g = std::exp(-0.5 * t * t);
        out.values(i, block + q) += g * fc;
        derivative[block + q] = g * dfc - g * fc * t / width;
      }
      pairs.push_back(r);
      neighbors.push_back(j);
      dvalue_dr.push_back(derivative / distance);
    }
    out.offsets.push_back(static_cast<int>(pairs.size()));
  }
  out.neighbor = neighbors;
  out.pair_vector.resize(static_cast<int>(pairs.size()), 3);
  for (std::size_t k = 0; k < pairs.size(); ++k)
    for (int d = 0; d < 3; ++d) out.pair_vector(k, d) = pairs[k][d];
  if (gradients) {
    out.gradient.resize(3 * static_cast<int>(pairs.size()), size);
    for (std::size_t k = 0; k < pairs.size(); ++k)
      for (int d = 0; d < 3; ++d)
        out.gradient.row(3 * k + d) = pairs[k][d] * dvalue_dr[k].transpose();
  }
  return out;
}

}  // namespace otfgp::testing
