// ZBL screened nuclear repulsion, switched off between two distances
// (otfgp/potentials/zbl.hpp; LAMMPS: pair_style zbl).

#include "otfgp/potentials/zbl.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "otfgp/core/error.hpp"
#include "otfgp/core/spec_arguments.hpp"
#include "pair_loop.hpp"

namespace otfgp {

namespace {

// e²/4πε₀ in eV·Å (LAMMPS metal units' qqr2e).
constexpr double coulomb_constant = 14.399645;

// One species pair: the prefactor Z_i Z_j e²/4πε₀ (eV·Å), 1/a (1/Å), the
// switching range and the switch's polynomial coefficients.
struct ZblCoefficients {
  double prefactor, inverse_screening, inner, outer;
  double a, b, shift;  // dE/dr += a t² + b t³; E += a t³/3 + b t⁴/4 + shift
};

// E(r), dE/dr and d²E/dr² of the unswitched ZBL repulsion.
struct ZblValue {
  double energy, first, second;
};

KOKKOS_INLINE_FUNCTION ZblValue zbl_value(const ZblCoefficients& c, double r) {
  constexpr double weight[4] = {0.18175, 0.50986, 0.28022, 0.02817};
  constexpr double decay[4] = {3.19980, 0.94229, 0.40290, 0.20162};
  double phi = 0, dphi = 0, d2phi = 0;  // φ and its derivatives with respect to r
  for (int k = 0; k < 4; ++k) {
    const double rate = decay[k] * c.inverse_screening;
    const double term = weight[k] * kmath::exp(-rate * r);
    phi += term;
    dphi -= rate * term;
    d2phi += rate * rate * term;
  }
  const double inv_r = 1.0 / r, k = c.prefactor;
  return {k * phi * inv_r, k * (dphi - phi * inv_r) * inv_r,
          k * (d2phi - 2.0 * dphi * inv_r + 2.0 * phi * inv_r * inv_r) * inv_r};
}

ZblCoefficients zbl_coefficients(int z_i, int z_j, double inner, double outer) {
  ZblCoefficients c;
  c.prefactor = coulomb_constant * z_i * z_j;
  c.inverse_screening = (std::pow(z_i, 0.23) + std::pow(z_j, 0.23)) / 0.46850;
  c.inner = inner;
  c.outer = outer;
  // dE/dr + a t² + b t³ and its derivative vanish at t = T; E + … + shift vanishes there.
  const ZblValue at = zbl_value(c, outer);
  const double t = outer - inner;
  c.a = (-3.0 * at.first + t * at.second) / (t * t);
  c.b = (2.0 * at.first - t * at.second) / (t * t * t);
  c.shift = -at.energy + 0.5 * t * at.first - t * t * at.second / 12.0;
  return c;
}

using CoefficientTable = Kokkos::View<ZblCoefficients**, MemSpace>;

struct ZblPair {
  CoefficientTable table;

  KOKKOS_INLINE_FUNCTION double site_energy(int, int) const { return 0.0; }
  KOKKOS_INLINE_FUNCTION PairTerm operator()(int, int, int ti, int tj, double r2) const {
    const ZblCoefficients& c = table(ti, tj);
    PairTerm term;
    if (r2 >= c.outer * c.outer) return term;
    const double r = kmath::sqrt(r2);
    const ZblValue value = zbl_value(c, r);
    double energy = value.energy + c.shift, slope = value.first;
    if (r > c.inner) {
      const double t = r - c.inner;
      energy += t * t * t * (c.a / 3.0 + c.b * t / 4.0);
      slope += t * t * (c.a + c.b * t);
    }
    term.energy = energy;
    term.force_over_r = -slope / r;
    return term;
  }
};

class Zbl final : public Potential {
 public:
  // Global range (elements empty) or one outer distance per pair of `elements`.
  Zbl(std::string spec, std::vector<int> elements, Eigen::MatrixXd outer, double inner_fraction,
      double inner)
      : spec_(std::move(spec)),
        elements_(std::move(elements)),
        outer_(std::move(outer)),
        inner_fraction_(inner_fraction),
        inner_(inner) {}

  std::string spec() const override { return spec_; }
  double cutoff() const override { return outer_.size() ? outer_.maxCoeff() : 0.0; }
  std::vector<int> elements() const override { return elements_; }

  void bind(const std::vector<int>& species) override {
    const int n = static_cast<int>(species.size());
    table_ = CoefficientTable("Zbl::coefficients", n, n);
    auto table = Kokkos::create_mirror_view(table_);
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) {
        double outer = outer_(0, 0), inner = inner_;
        if (!elements_.empty()) {
          outer = outer_(index(species[a]), index(species[b]));
          inner = inner_fraction_ * outer;
        }
        table(a, b) = zbl_coefficients(species[a], species[b], inner, outer);
      }
    Kokkos::deep_copy(table_, table);
  }

  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    check_ready_to_compute("zbl", table_.extent(0) == state.species.size(), list, cutoff());
    return compute_pair_potential("Zbl", state, list, request, cutoff(), ZblPair{table_});
  }

 private:
  int index(int z) const {
    const auto at = std::find(elements_.begin(), elements_.end(), z);
    if (at == elements_.end())
      throw Error(spec_ + ": no repulsion range for element " + std::to_string(z));
    return static_cast<int>(at - elements_.begin());
  }

  std::string spec_;
  std::vector<int> elements_;
  Eigen::MatrixXd outer_;
  double inner_fraction_, inner_;
  CoefficientTable table_;
};

}  // namespace

std::unique_ptr<Potential> make_zbl(const std::string& arguments,
                                    const std::filesystem::path& /*config_dir*/) {
  SpecArguments args("zbl", arguments);
  const double inner = args.number("inner"), outer = args.number("outer");
  args.finish();
  if (!(inner > 0.0 && outer > inner))
    throw Error("zbl: expected 0 < inner < outer (Å), got inner=" + std::to_string(inner) +
                ", outer=" + std::to_string(outer));
  return std::make_unique<Zbl>("zbl:" + arguments, std::vector<int>{},
                               Eigen::MatrixXd::Constant(1, 1, outer), 0.0, inner);
}

std::unique_ptr<Potential> make_zbl_repulsion(const std::vector<int>& elements,
                                              const Eigen::MatrixXd& outer, double inner_fraction) {
  if (elements.empty() || outer.rows() != Eigen::Index(elements.size()) ||
      outer.cols() != outer.rows())
    throw Error("zbl repulsion: one outer distance per pair of elements is needed");
  if (!(outer.minCoeff() > 0.0) || !outer.allFinite())
    throw Error("zbl repulsion: outer distances must be positive and finite");
  if (!(inner_fraction > 0.0 && inner_fraction < 1.0))
    throw Error("zbl repulsion: the inner fraction must lie in (0, 1)");
  return std::make_unique<Zbl>("zbl repulsion", elements, outer, inner_fraction, 0.0);
}

}  // namespace otfgp
