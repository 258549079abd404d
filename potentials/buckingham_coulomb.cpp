// Rigid-ion model: Buckingham short-range pairs plus damped shifted-force (DSF)
// Coulomb (Fennell & Gezelter, J. Chem. Phys. 124, 234104 (2006)) between
// fixed per-species charges. Equals LAMMPS's
//   pair_style hybrid/overlay buck RB coul/dsf ALPHA RC
// with atom_style charge in metal units:
//
//   E = Σ_{i<j, r<RB} [A exp(−r/ρ) − C/r⁶]                      (unshifted, as buck)
//     + Σ_{i<j, r<RC} k q_i q_j [erfc(αr)/r − e_s − f_s·r]
//     − Σ_i (e_s/2 + α/√π) k q_i²                              (self term, as coul/dsf)
//   f_s = −[erfc(αRC)/RC² + 2α/√π·exp(−α²RC²)/RC],  e_s = erfc(αRC)/RC − f_s·RC
//
// so the Coulomb energy and force go to zero at RC. k = 14.399645 eV·Å/e² is
// LAMMPS's qqr2e in metal units. LAMMPS evaluates erfc(αr) in the pair loop with
// the Abramowitz–Stegun 7.1.26 polynomial (|error| ≤ 1.5e-7) but differentiates
// the exact erfc, so its forces are not quite −∇E; we use the exact erfc unless
// the spec says erfc=lammps.
//
// Spec: buck:FILE[,alpha=A][,cutoff=R][,coulomb_cutoff=R][,buckingham_cutoff=R][,erfc=exact|lammps]
// FILE is our .buck format (docs/potentials.md); a bare name is looked up in
// potentials/params. Spec values override the file's.

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/spec_arguments.hpp"
#include "otfgp/core/units.hpp"
#include "pair_loop.hpp"
#include "parameter_file.hpp"

namespace otfgp {

namespace {

// LAMMPS's force->qqr2e for units metal (e²/(4πε₀) in eV·Å, as LAMMPS rounds it).
constexpr double coulomb_constant = 14.399645;

struct BuckinghamPair {
  double a = 0, rho = 0, c = 0;  // eV, Å, eV·Å⁶
};

struct BuckinghamParameters {
  std::string path, spec_argument;
  std::map<int, double> charges;  // atomic number → e
  double alpha = -1, coulomb_cutoff = -1, buckingham_cutoff = -1;
  std::map<std::pair<int, int>, BuckinghamPair> pairs;  // (smaller Z, larger Z)
};

// (smaller Z, larger Z); by value, because std::minmax of temporaries dangles.
std::pair<int, int> ordered_pair(int a, int b) {
  return {std::min(a, b), std::max(a, b)};
}

BuckinghamParameters read_buck_file(const std::string& name,
                                    const std::filesystem::path& config_dir) {
  const auto location = find_parameter_file(name, "buck", config_dir);
  ParameterFileReader reader(location.path, "buck");
  BuckinghamParameters parameters;
  parameters.path = location.path.string();
  parameters.spec_argument = location.spec_argument;
  auto species = [&](const std::string& symbol) {
    const int z = find_atomic_number(symbol);
    if (z == 0) throw Error(reader.where() + "'" + symbol + "' is not an element symbol");
    return z;
  };
  auto scalar = [&](const std::vector<std::string>& words, double& target,
                    const std::string& what) {
    if (words.size() != 2) throw Error(reader.where() + "expected '" + words[0] + " VALUE'");
    if (target >= 0) throw Error(reader.where() + "'" + words[0] + "' given twice");
    target = reader.to_number(words[1], what);
    if (!(target > 0)) throw Error(reader.where() + what + " must be positive");
  };
  std::vector<std::string> words;
  while (reader.next_words(words)) {
    const std::string& key = words[0];
    if (key == "charge") {
      if (words.size() != 3) throw Error(reader.where() + "expected 'charge ELEMENT Q'");
      const int z = species(words[1]);
      if (parameters.charges.count(z))
        throw Error(reader.where() + "second charge for " + words[1]);
      parameters.charges[z] = reader.to_number(words[2], "charge of " + words[1]);
    } else if (key == "alpha") {
      scalar(words, parameters.alpha, "alpha (1/Å)");
    } else if (key == "coulomb_cutoff") {
      scalar(words, parameters.coulomb_cutoff, "coulomb_cutoff (Å)");
    } else if (key == "buckingham_cutoff") {
      scalar(words, parameters.buckingham_cutoff, "buckingham_cutoff (Å)");
    } else if (key == "pair") {
      if (words.size() != 6)
        throw Error(reader.where() + "expected 'pair ELEMENT ELEMENT A RHO C'");
      const auto key_pair = ordered_pair(species(words[1]), species(words[2]));
      const std::string label = words[1] + "-" + words[2];
      if (parameters.pairs.count(key_pair))
        throw Error(reader.where() + "second Buckingham pair " + label);
      BuckinghamPair pair;
      pair.a = reader.to_number(words[3], "A of " + label);
      pair.rho = reader.to_number(words[4], "rho of " + label);
      pair.c = reader.to_number(words[5], "C of " + label);
      if (!(pair.rho > 0)) throw Error(reader.where() + "rho of " + label + " must be positive");
      parameters.pairs[key_pair] = pair;
    } else {
      throw Error(reader.where() + "unknown keyword '" + key +
                  "' (known: charge, alpha, coulomb_cutoff, buckingham_cutoff, pair)");
    }
  }
  const std::string in = "buck: " + parameters.path + ": ";
  if (parameters.charges.empty()) throw Error(in + "no 'charge' lines");
  if (parameters.alpha < 0) throw Error(in + "missing 'alpha'");
  if (parameters.coulomb_cutoff < 0) throw Error(in + "missing 'coulomb_cutoff'");
  if (parameters.buckingham_cutoff < 0) parameters.buckingham_cutoff = parameters.coulomb_cutoff;
  for (const auto& [pair, values] : parameters.pairs)
    for (int z : {pair.first, pair.second})
      if (!parameters.charges.count(z))
        throw Error(in + "pair " + element(pair.first).symbol + "-" + element(pair.second).symbol +
                    " names " + element(z).symbol + ", which has no 'charge' line");
  return parameters;
}

using PairTable = Kokkos::View<double**, MemSpace>;

// Buckingham plus DSF Coulomb for one pair (the formulas at the top of the file).
struct BuckinghamCoulombPair {
  Kokkos::View<double*, MemSpace> charge;  // e, per species
  PairTable a, inverse_rho, c;
  double alpha = 0, coulomb_cutoff_squared = 0, buckingham_cutoff_squared = 0;
  double force_shift = 0, energy_shift = 0;  // f_s and e_s
  double self_factor = 0;                    // −(e_s/2 + α/√π)·k
  double two_alpha_over_sqrt_pi = 0;
  bool lammps_erfc = false;

  KOKKOS_INLINE_FUNCTION double site_energy(int, int ti) const {
    return self_factor * charge(ti) * charge(ti);
  }

  KOKKOS_INLINE_FUNCTION PairTerm operator()(int, int, int ti, int tj, double r2) const {
    PairTerm term;
    if (r2 < coulomb_cutoff_squared) {
      const double distance = kmath::sqrt(r2);
      const double prefactor = coulomb_constant * charge(ti) * charge(tj) / distance;
      const double gaussian = kmath::exp(-alpha * alpha * r2);
      double complementary;
      if (lammps_erfc) {
        // Abramowitz & Stegun 7.1.26, as LAMMPS's coul/dsf.
        const double t = 1.0 / (1.0 + 0.3275911 * alpha * distance);
        complementary =
            t *
            (0.254829592 +
             t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
            gaussian;
      } else {
        complementary = kmath::erfc(alpha * distance);
      }
      term.force_over_r =
          prefactor *
          (complementary / distance + two_alpha_over_sqrt_pi * gaussian + distance * force_shift) *
          distance / r2;
      term.energy = prefactor * (complementary - distance * energy_shift - r2 * force_shift);
    }
    if (r2 < buckingham_cutoff_squared) {
      const double inverse_r2 = 1.0 / r2;
      const double inverse_r6 = inverse_r2 * inverse_r2 * inverse_r2;
      const double distance = kmath::sqrt(r2);
      const double repulsion = a(ti, tj) * kmath::exp(-distance * inverse_rho(ti, tj));
      term.force_over_r +=
          (repulsion * inverse_rho(ti, tj) * distance - 6.0 * c(ti, tj) * inverse_r6) * inverse_r2;
      term.energy += repulsion - c(ti, tj) * inverse_r6;
    }
    return term;
  }
};

class BuckinghamCoulomb final : public Potential {
 public:
  BuckinghamCoulomb(const std::string& arguments, const std::filesystem::path& config_dir) {
    const auto comma = arguments.find(',');
    const std::string file = arguments.substr(0, comma);
    if (file.empty() || file.find('=') != std::string::npos)
      throw Error("buck: expected buck:FILE[,key=value…], e.g. buck:BaRhO.buck,alpha=0.25; got '" +
                  arguments + "'");
    parameters_ = read_buck_file(file, config_dir);
    spec_argument_ = parameters_.spec_argument + arguments.substr(file.size());
    SpecArguments args("buck", comma == std::string::npos ? "" : arguments.substr(comma + 1));
    parameters_.alpha = args.number("alpha", parameters_.alpha);
    if (args.has("cutoff") && (args.has("coulomb_cutoff") || args.has("buckingham_cutoff")))
      throw Error("buck: give either cutoff or coulomb_cutoff/buckingham_cutoff, not both");
    if (args.has("cutoff"))
      parameters_.coulomb_cutoff = parameters_.buckingham_cutoff = args.number("cutoff");
    parameters_.coulomb_cutoff = args.number("coulomb_cutoff", parameters_.coulomb_cutoff);
    parameters_.buckingham_cutoff = args.number("buckingham_cutoff", parameters_.buckingham_cutoff);
    const std::string erfc = args.text("erfc", "exact");
    if (erfc != "exact" && erfc != "lammps")
      throw Error("buck: erfc must be exact or lammps, got '" + erfc + "'");
    lammps_erfc_ = erfc == "lammps";
    args.finish();
    if (!(parameters_.alpha >= 0)) throw Error("buck: alpha must not be negative");
    if (!(parameters_.coulomb_cutoff > 0) || !(parameters_.buckingham_cutoff > 0))
      throw Error("buck: cutoffs must be positive");
  }

  std::string spec() const override { return "buck:" + spec_argument_; }
  std::vector<std::filesystem::path> parameter_files() const override { return {parameters_.path}; }
  double cutoff() const override {
    return std::max(parameters_.coulomb_cutoff, parameters_.buckingham_cutoff);
  }
  std::vector<int> elements() const override {
    std::vector<int> numbers;
    for (const auto& [z, q] : parameters_.charges) numbers.push_back(z);
    return numbers;
  }

  void bind(const std::vector<int>& species) override {
    for (int z : species)
      if (!parameters_.charges.count(z))
        throw Error("buck: element " + std::string(element(z).symbol) + " has no charge in " +
                    parameters_.path + " (it has " + symbols_text(elements(), ", ") + ")");
    const int n = static_cast<int>(species.size());
    charge_ = Kokkos::View<double*, MemSpace>("BuckinghamCoulomb::charge", n);
    a_ = PairTable("BuckinghamCoulomb::a", n, n);
    inverse_rho_ = PairTable("BuckinghamCoulomb::inverse_rho", n, n);
    c_ = PairTable("BuckinghamCoulomb::c", n, n);
    auto q = Kokkos::create_mirror_view(charge_);
    auto a = Kokkos::create_mirror_view(a_);
    auto inverse_rho = Kokkos::create_mirror_view(inverse_rho_);
    auto c = Kokkos::create_mirror_view(c_);
    for (int s = 0; s < n; ++s) {
      q(s) = parameters_.charges.at(species[s]);
      for (int t = 0; t < n; ++t) {
        const auto found = parameters_.pairs.find(ordered_pair(species[s], species[t]));
        // Pairs without a Buckingham line interact by Coulomb alone (A = C = 0).
        const BuckinghamPair pair =
            found != parameters_.pairs.end() ? found->second : BuckinghamPair{0, 1, 0};
        a(s, t) = pair.a;
        inverse_rho(s, t) = 1.0 / pair.rho;
        c(s, t) = pair.c;
      }
    }
    Kokkos::deep_copy(charge_, q);
    Kokkos::deep_copy(a_, a);
    Kokkos::deep_copy(inverse_rho_, inverse_rho);
    Kokkos::deep_copy(c_, c);
  }

  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    check_ready_to_compute("buck", charge_.extent(0) == state.species.size(), list, cutoff());
    const double alpha = parameters_.alpha, rc = parameters_.coulomb_cutoff;
    const double sqrt_pi = std::sqrt(units::pi);
    BuckinghamCoulombPair pair;
    pair.charge = charge_;
    pair.a = a_;
    pair.inverse_rho = inverse_rho_;
    pair.c = c_;
    pair.alpha = alpha;
    pair.coulomb_cutoff_squared = rc * rc;
    pair.buckingham_cutoff_squared = parameters_.buckingham_cutoff * parameters_.buckingham_cutoff;
    pair.force_shift = -(std::erfc(alpha * rc) / (rc * rc) +
                         2.0 / sqrt_pi * alpha * std::exp(-alpha * alpha * rc * rc) / rc);
    pair.energy_shift = std::erfc(alpha * rc) / rc - pair.force_shift * rc;
    pair.self_factor = -(0.5 * pair.energy_shift + alpha / sqrt_pi) * coulomb_constant;
    pair.two_alpha_over_sqrt_pi = 2.0 * alpha / sqrt_pi;
    pair.lammps_erfc = lammps_erfc_;
    return compute_pair_potential("BuckinghamCoulomb", state, list, request, cutoff(), pair);
  }

 private:
  std::string spec_argument_;  // file as found (bare name stays bare) and the options as given
  BuckinghamParameters parameters_;
  bool lammps_erfc_ = false;
  Kokkos::View<double*, MemSpace> charge_;
  PairTable a_, inverse_rho_, c_;
};

}  // namespace

std::unique_ptr<Potential> make_buckingham_coulomb(const std::string& arguments,
                                                   const std::filesystem::path& config_dir) {
  return std::make_unique<BuckinghamCoulomb>(arguments, config_dir);
}

}  // namespace otfgp
