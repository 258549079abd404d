// Lennard-Jones 12-6, any number of species, energy shifted to zero at the
// cutoff (LAMMPS: pair_style lj/cut RC, pair_modify shift yes).
//
// Spec: lj:eps=E,sigma=S,rc=RC[,shift=yes|no][,eps.A-B=E_AB][,sigma.A-B=S_AB]
// eps/sigma apply to every pair; eps.A-B / sigma.A-B override one species pair.

#include <cmath>
#include <map>
#include <utility>

#include "factories.hpp"
#include "otfgp/elements.hpp"
#include "otfgp/error.hpp"
#include "otfgp/spec_arguments.hpp"

namespace otfgp {

namespace {

using PairTable = Kokkos::View<double**, MemSpace>;

class LennardJones final : public Potential {
 public:
  explicit LennardJones(const std::string& arguments) : arguments_(arguments) {
    SpecArguments args("lj", arguments);
    epsilon_ = args.number("eps");
    sigma_ = args.number("sigma");
    cutoff_ = args.number("rc");
    shift_ = args.flag("shift", true);
    if (!(sigma_ > 0) || !(cutoff_ > 0)) throw Error("lj: sigma and rc must be positive");
    for (const auto& [pair, value] : args.take_prefixed("eps"))
      epsilon_pairs_[parse_pair(pair)] = parse_spec_number("lj", pair, value);
    for (const auto& [pair, value] : args.take_prefixed("sigma"))
      sigma_pairs_[parse_pair(pair)] = parse_spec_number("lj", pair, value);
    args.finish();
  }

  std::string spec() const override { return "lj:" + arguments_; }
  double cutoff() const override { return cutoff_; }
  std::vector<int> elements() const override { return {}; }

  void bind(const std::vector<int>& species) override {
    const int n = static_cast<int>(species.size());
    epsilon_table_ = PairTable("LennardJones::epsilon", n, n);
    sigma_table_ = PairTable("LennardJones::sigma", n, n);
    shift_table_ = PairTable("LennardJones::shift", n, n);
    auto eps = Kokkos::create_mirror_view(epsilon_table_);
    auto sig = Kokkos::create_mirror_view(sigma_table_);
    auto shift = Kokkos::create_mirror_view(shift_table_);
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) {
        const auto key = std::minmax(species[a], species[b]);
        const auto e = epsilon_pairs_.find(key);
        const auto s = sigma_pairs_.find(key);
        eps(a, b) = e != epsilon_pairs_.end() ? e->second : epsilon_;
        sig(a, b) = s != sigma_pairs_.end() ? s->second : sigma_;
        const double sr6 = std::pow(sig(a, b) / cutoff_, 6);
        shift(a, b) = shift_ ? 4.0 * eps(a, b) * (sr6 * sr6 - sr6) : 0.0;
      }
    Kokkos::deep_copy(epsilon_table_, eps);
    Kokkos::deep_copy(sigma_table_, sig);
    Kokkos::deep_copy(shift_table_, shift);
  }

  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    ComputeResult result;
    if (request.per_atom_energy)
      result.per_atom_energy = ScalarView("LennardJones::per_atom_energy", state.natoms);
    const auto per_atom = result.per_atom_energy;
    const NeighborView neighbors = list.view();
    const VecView x = state.x, f = state.f;
    const IntView type = state.type;
    const PairTable eps = epsilon_table_, sig = sigma_table_, shift = shift_table_;
    const double rc2 = cutoff_ * cutoff_;
    EnergyVirial total;
    // Full list: each atom sums its own force (no scatter) and half of each pair's energy and
    // virial.
    Kokkos::parallel_reduce(
        "LennardJones::compute", RangePolicy(0, state.natoms),
        KOKKOS_LAMBDA(int i, EnergyVirial& sum) {
          double fi[3] = {0, 0, 0}, ei = 0.0;
          const int ti = type(i);
          for (int k = neighbors.offsets(i); k < neighbors.offsets(i + 1); ++k) {
            double r[3];
            neighbors.delta(x, i, k, r);
            const double r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
            if (r2 >= rc2) continue;
            const int tj = type(neighbors.index(k));
            const double s2 = sig(ti, tj) * sig(ti, tj) / r2;
            const double s6 = s2 * s2 * s2;
            const double e4 = 4.0 * eps(ti, tj);
            ei += 0.5 * (e4 * (s6 * s6 - s6) - shift(ti, tj));
            // dφ/dr · 1/r, so that the force on i from j is (dφ/dr / r) r_ij.
            const double dphi_over_r = -e4 * (12.0 * s6 * s6 - 6.0 * s6) / r2;
            double fij[3];
            for (int d = 0; d < 3; ++d) {
              fij[d] = dphi_over_r * r[d];
              fi[d] += fij[d];
            }
            sum.add_pair_virial(r, fij, -0.5);
          }
          for (int d = 0; d < 3; ++d) f(i, d) = fi[d];
          sum.energy += ei;
          if (per_atom.extent(0) > 0) per_atom(i) = ei;
        },
        Kokkos::Sum<EnergyVirial>(total));
    result.energy = total.energy;
    for (int k = 0; k < 6; ++k) result.virial[k] = total.virial[k];
    return result;
  }

 private:
  static std::pair<int, int> parse_pair(const std::string& pair) {
    const auto dash = pair.find('-');
    if (dash == std::string::npos)
      throw Error("lj: expected a species pair like Ar-Kr, got '" + pair + "'");
    return std::minmax(atomic_number(pair.substr(0, dash)), atomic_number(pair.substr(dash + 1)));
  }

  std::string arguments_;
  double epsilon_ = 0, sigma_ = 0, cutoff_ = 0;
  bool shift_ = true;
  std::map<std::pair<int, int>, double> epsilon_pairs_, sigma_pairs_;
  PairTable epsilon_table_, sigma_table_, shift_table_;
};

}  // namespace

std::unique_ptr<Potential> make_lennard_jones(const std::string& arguments) {
  return std::make_unique<LennardJones>(arguments);
}

}  // namespace otfgp
