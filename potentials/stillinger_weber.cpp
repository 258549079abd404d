// Stillinger–Weber, any number of elements, exactly as LAMMPS's pair_style sw.
//
// Spec: sw:FILE[,Symbol=label,...] with FILE in LAMMPS's .sw format (see
// lammps_parameter_file.hpp for the look-up). Each entry: three elements i j k,
// then epsilon sigma a lambda gamma costheta0 A B p q tol.
//
//   E = Σ_i Σ_{j≠i} ½ φ2(r_ij) + Σ_i Σ_{j<k} φ3(r_ij, r_ik, θ_jik)
//   φ2 = A ε (B (σ/r)^p − (σ/r)^q) exp(σ/(r − aσ))                 [entry (i,j,j)]
//   φ3 = λ_ijk ε_ijk (cos θ − cos θ0_ijk)² exp(γσ/(r_ij − aσ))_ij exp(γσ/(r_ik − aσ))_ik
// Pairs interact within aσ, shortened by LAMMPS's tol shortcut when tol > 0.
// Where the file gives different two-body parameters for (i,j,j) and (j,i,i),
// each atom takes half of its own entry's φ2 (LAMMPS picks one by atom tags).
// Per-atom energies are site energies: ½ Σ_j φ2 + the φ3 terms centred on i.

#include <algorithm>
#include <cmath>
#include <vector>

#include "lammps_parameter_file.hpp"
#include "many_body_loop.hpp"
#include "manybody_support.hpp"
#include "otfgp/core/error.hpp"

namespace otfgp {

namespace {

// Parameters of one (i,j,k) entry with LAMMPS's derived constants. Two-body
// and leg quantities are read from (i,j,j) entries, the angular ones from (i,j,k).
struct SwTriplet {
  double cut = 0;    // aσ: where the exponentials vanish
  double cutsq = 0;  // interaction range², shortened by tol
  double sigma = 0, sigma_gamma = 0;
  double c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0, c6 = 0;
  double p = 0, q = 0;
  int p_integer = -1, q_integer = -1;  // ≥ 0 when the exponent is a small integer
  double lambda_epsilon = 0, lambda_epsilon2 = 0, costheta = 0;
};

// What the three-body loop needs of one short-list neighbour.
struct SwLeg {
  double dr[3];      // r_ij (Å)
  double rinv;       // 1/r
  double rinvsq;     // 1/r²
  double expg;       // exp(γσ/(r − aσ))
  double gsrainvsq;  // γσ/((r − aσ)² r): −d ln(expg)/dr / r
  int j, type;
};

KOKKOS_INLINE_FUNCTION double inverse_power(double rinv, double exponent, int integer_exponent) {
  return integer_exponent >= 0 ? integer_power(rinv, integer_exponent) : kmath::pow(rinv, exponent);
}

// p and q are small integers in the usual SW files (4 and 0 for Si): then
// repeated squaring, several times cheaper than pow(), gives the power to a few
// units in the last place.
int small_integer(double exponent) {
  return exponent == std::floor(exponent) && exponent >= 0 && exponent <= 64
             ? static_cast<int>(exponent)
             : -1;
}

// The distances of one neighbour that its pair term and its leg both use.
struct SwDistance {
  double r, rinv, rinvsq;
  double rainv;  // 1/(r − aσ)
};

// The physics of many_body_loop.hpp: φ2 as each leg is kept, then φ3 over
// each unordered pair (j, k) of legs.
struct SwBody : TripletParams<SwTriplet> {
  using Leg = SwLeg;

  KOKKOS_INLINE_FUNCTION bool keep(ManyBodySite& site, int j, int tj, const double dr[3],
                                   double rsq, SwLeg* leg) const {
    const SwTriplet& p = triplet(site.type, tj, tj);
    if (rsq >= p.cutsq) return false;
    const SwDistance r = distance(p, rsq);
    const double rp = inverse_power(r.rinv, p.p, p.p_integer);
    const double rq = inverse_power(r.rinv, p.q, p.q_integer);
    const double expsrainv = kmath::exp(p.sigma * r.rainv);
    // −(dφ2/dr)/r, LAMMPS's fpair.
    const double fpair =
        (p.c1 * rp - p.c2 * rq + (p.c3 * rp - p.c4 * rq) * r.rainv * r.rainv * r.r) * expsrainv *
        r.rinvsq;
    site.add_pair(dr, (p.c5 * rp - p.c6 * rq) * expsrainv, fpair);
    if (leg != nullptr) fill(*leg, p, j, tj, dr, r);
    return true;
  }

  KOKKOS_INLINE_FUNCTION SwLeg leg(int ti, int j, int tj, const double dr[3], double rsq) const {
    const SwTriplet& p = triplet(ti, tj, tj);
    SwLeg made;
    fill(made, p, j, tj, dr, distance(p, rsq));
    return made;
  }

  KOKKOS_INLINE_FUNCTION static SwDistance distance(const SwTriplet& p, double rsq) {
    SwDistance r;
    r.r = kmath::sqrt(rsq);
    r.rinv = 1.0 / r.r;
    r.rinvsq = r.rinv * r.rinv;
    r.rainv = 1.0 / (r.r - p.cut);
    return r;
  }

  KOKKOS_INLINE_FUNCTION static void fill(SwLeg& leg, const SwTriplet& p, int j, int tj,
                                          const double dr[3], const SwDistance& r) {
    for (int d = 0; d < 3; ++d) leg.dr[d] = dr[d];
    const double gsrainv = p.sigma_gamma * r.rainv;
    leg.rinv = r.rinv;
    leg.rinvsq = r.rinvsq;
    leg.expg = kmath::exp(gsrainv);
    leg.gsrainvsq = gsrainv * r.rainv * r.rinv;
    leg.j = j;
    leg.type = tj;
  }

  template <class Legs>
  KOKKOS_INLINE_FUNCTION void terms(ManyBodySite& site, const Legs& legs, int count) const {
    for (int a = 0; a + 1 < count; ++a) {
      const SwLeg& one = legs(a);
      double fj_sum[3] = {0, 0, 0};
      for (int b = a + 1; b < count; ++b) {
        const SwLeg& two = legs(b);
        const SwTriplet& p = triplet(site.type, one.type, two.type);
        const double rinv12 = one.rinv * two.rinv;
        const double cs =
            (one.dr[0] * two.dr[0] + one.dr[1] * two.dr[1] + one.dr[2] * two.dr[2]) * rinv12;
        const double delcs = cs - p.costheta;
        const double facexp = one.expg * two.expg;
        const double facrad = p.lambda_epsilon * facexp * delcs * delcs;
        const double frad1 = facrad * one.gsrainvsq;
        const double frad2 = facrad * two.gsrainvsq;
        const double facang = p.lambda_epsilon2 * facexp * delcs;
        const double facang12 = rinv12 * facang;
        const double csfacang = cs * facang;
        const double s1 = frad1 + one.rinvsq * csfacang;
        const double s2 = frad2 + two.rinvsq * csfacang;
        double fj[3], fk[3];
        for (int d = 0; d < 3; ++d) {
          fj[d] = one.dr[d] * s1 - two.dr[d] * facang12;
          fk[d] = two.dr[d] * s2 - one.dr[d] * facang12;
          site.force[d] -= fj[d] + fk[d];
          fj_sum[d] += fj[d];
          site.f(two.j, d) += fk[d];
        }
        site.energy += facrad;
        // W = r_ij ⊗ F_j + r_ik ⊗ F_k (i at the origin).
        add_virial(site.virial, one.dr, fj, 1.0);
        add_virial(site.virial, two.dr, fk, 1.0);
      }
      // j's force from all its triplets at once: one scatter add instead of many.
      for (int d = 0; d < 3; ++d) site.f(one.j, d) += fj_sum[d];
    }
  }
};

const std::vector<std::string> sw_value_names = {
    "epsilon", "sigma", "a", "lambda", "gamma", "costheta0", "A", "B", "p", "q", "tol"};

class StillingerWeber final : public Potential {
 public:
  StillingerWeber(const std::string& arguments, const std::filesystem::path& config_dir)
      : file_("sw", arguments, sw_value_names, config_dir) {
    for (const auto& entry : file_.entries())
      for (std::size_t k = 0; k < entry.values.size(); ++k)
        if (entry.values[k] < 0 && sw_value_names[k] != "costheta0")
          throw Error(file_.where(entry.line) + sw_value_names[k] + " of " + entry.labels[0] + " " +
                      entry.labels[1] + " " + entry.labels[2] +
                      " is negative (LAMMPS: illegal Stillinger-Weber parameter)");
    // Only (i,j,j) entries set interaction ranges; (i,j,k) entries give angular terms.
    for (const auto& entry : file_.entries())
      if (entry.labels[1] == entry.labels[2])
        cutoff_ = std::max(cutoff_, std::sqrt(derive(entry).cutsq));
  }

  std::string spec() const override { return "sw:" + file_.spec_argument(); }
  std::vector<std::filesystem::path> parameter_files() const override { return {file_.path()}; }
  double cutoff() const override { return cutoff_; }
  std::vector<int> elements() const override { return file_.elements(); }

  void bind(const std::vector<int>& species) override {
    const int n = static_cast<int>(species.size());
    const auto triplets = derive_triplets<SwTriplet>(file_, species, derive);
    // Only (i,j,j) entries set how far a centre reaches.
    std::vector<double> reach_sq(n, 0.0);
    double range_sq = 0;
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b)
        reach_sq[a] = std::max(reach_sq[a], triplets[(a * n + b) * n + b].cutsq);
      range_sq = std::max(range_sq, reach_sq[a]);
    }
    params_ = triplet_params("StillingerWeber", triplets, reach_sq);
    cutoff_ = std::sqrt(range_sq);
    warn_if_asymmetric("sw", "two-body", file_, species, triplets,
                       [](const SwTriplet& ab, const SwTriplet& ba) {
                         return ab.cutsq != ba.cutsq || ab.c5 != ba.c5 || ab.c6 != ba.c6 ||
                                ab.sigma != ba.sigma || ab.cut != ba.cut;
                       });
  }

  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    return loop_.compute(SwBody{params_}, params_.n == static_cast<int>(state.species.size()),
                         cutoff_, state, list, request);
  }

 private:
  // LAMMPS's PairSW::setup_params for one entry.
  static SwTriplet derive(const TripletEntry& entry) {
    const auto& v = entry.values;
    const double epsilon = v[0], sigma = v[1], a = v[2], lambda = v[3], gamma = v[4],
                 costheta = v[5];
    const double biga = v[6], bigb = v[7], p = v[8], q = v[9];
    double tol = v[10];
    SwTriplet t;
    t.cut = sigma * a;
    double range = t.cut;
    if (tol > 0.0) {
      if (tol > 0.01) tol = 0.01;
      range += (gamma < 1.0 ? gamma * sigma : sigma) / std::log(tol);
    }
    t.cutsq = range * range;
    t.sigma = sigma;
    t.sigma_gamma = sigma * gamma;
    t.lambda_epsilon = lambda * epsilon;
    t.lambda_epsilon2 = 2.0 * lambda * epsilon;
    t.costheta = costheta;
    t.c1 = biga * epsilon * p * bigb * std::pow(sigma, p);
    t.c2 = biga * epsilon * q * std::pow(sigma, q);
    t.c3 = biga * epsilon * bigb * std::pow(sigma, p + 1.0);
    t.c4 = biga * epsilon * std::pow(sigma, q + 1.0);
    t.c5 = biga * epsilon * bigb * std::pow(sigma, p);
    t.c6 = biga * epsilon * std::pow(sigma, q);
    t.p = p;
    t.q = q;
    t.p_integer = small_integer(p);
    t.q_integer = small_integer(q);
    return t;
  }

  TripletParameterFile file_;
  double cutoff_ = 0;
  TripletParams<SwTriplet> params_;  // reach: the largest pair range² of (i,j,j) entries
  ManyBodyLoop<SwBody> loop_{"sw", "StillingerWeber"};
};

}  // namespace

std::unique_ptr<Potential> make_stillinger_weber(const std::string& arguments,
                                                 const std::filesystem::path& config_dir) {
  return std::make_unique<StillingerWeber>(arguments, config_dir);
}

}  // namespace otfgp
