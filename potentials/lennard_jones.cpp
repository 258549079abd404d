// Lennard-Jones 12-6, any number of species, energy shifted to zero at the
// cutoff (LAMMPS: pair_style lj/cut RC, pair_modify shift yes).
//
// Spec: lj:eps=E,sigma=S,rc=RC[,shift=yes|no][,eps.A-B=E_AB][,sigma.A-B=S_AB]
// eps/sigma apply to every pair; eps.A-B / sigma.A-B override one species pair.

#include <cmath>
#include <map>
#include <utility>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/spec_arguments.hpp"
#include "pair_loop.hpp"

namespace otfgp {

namespace {

using PairTable = Kokkos::View<double**, MemSpace>;

// φ(r) = 4ε((σ/r)¹² − (σ/r)⁶) − φ(rc) for one species pair.
struct LennardJonesPair {
  PairTable epsilon, sigma, shift;

  KOKKOS_INLINE_FUNCTION double site_energy(int, int) const { return 0.0; }
  KOKKOS_INLINE_FUNCTION PairTerm operator()(int, int, int ti, int tj, double r2) const {
    const double s2 = sigma(ti, tj) * sigma(ti, tj) / r2;
    const double s6 = s2 * s2 * s2;
    const double e4 = 4.0 * epsilon(ti, tj);
    PairTerm term;
    term.energy = e4 * (s6 * s6 - s6) - shift(ti, tj);
    term.force_over_r = e4 * (12.0 * s6 * s6 - 6.0 * s6) / r2;
    return term;
  }
};

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
    check_ready_to_compute("lj", epsilon_table_.extent(0) == state.species.size(), list, cutoff_);
    return compute_pair_potential("LennardJones", state, list, request, cutoff_,
                                  LennardJonesPair{epsilon_table_, sigma_table_, shift_table_});
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

std::unique_ptr<Potential> make_lennard_jones(const std::string& arguments,
                                              const std::filesystem::path& /*config_dir*/) {
  return std::make_unique<LennardJones>(arguments);
}

}  // namespace otfgp
