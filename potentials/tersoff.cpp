// Tersoff, any number of elements, exactly as LAMMPS's pair_style tersoff
// (the default form, not shift or tersoff/mod).
//
// Spec: tersoff:FILE[,Symbol=label,...] with FILE in LAMMPS's .tersoff format
// (see lammps_parameter_file.hpp for the look-up). Each entry: three elements
// i j k, then m gamma lambda3 c d costheta0 n beta lambda2 B R D lambda1 A.
//
//   E = Σ_i Σ_{j≠i} ½ [f_C(r_ij) A e^{−λ1 r_ij} − b_ij f_C(r_ij) B e^{−λ2 r_ij}]   [entry (i,j,j)]
//   b_ij = (1 + (β ζ_ij)^n)^{−1/2n}                                               [entry (i,j,j)]
//   ζ_ij = Σ_{k≠i,j} f_C(r_ik) g(θ_ijk) exp((λ3 (r_ij − r_ik))^m)                 [entry (i,j,k)]
//   g(θ) = γ (1 + c²/d² − c²/(d² + (cos θ0 − cos θ)²)),  f_C: sine switch over R ± D.
// LAMMPS's shortcuts are kept so that results agree to rounding: b_ij switches
// to its asymptotic forms where (βζ)^n is below 1e-8/1e-16 or above their
// inverses, and exp() of the ζ exponent is clamped beyond ±69.0776.
// Where the file gives different repulsive parameters for (i,j,j) and (j,i,i),
// each atom takes half of its own entry's term (LAMMPS picks one by atom tags).
// Per-atom energies are Tersoff's site energies: the sum above over j for atom i.

#include <algorithm>
#include <cmath>
#include <vector>

#include "lammps_parameter_file.hpp"
#include "many_body_loop.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/units.hpp"

namespace otfgp {

namespace {

struct TersoffTriplet {
  int m = 3;  // 1 or 3
  double gamma = 0, lam3 = 0, c2 = 0, d2 = 0, h = 0, n = 0, beta = 0, lam2 = 0, bigb = 0;
  double bigr = 0, bigd = 0, lam1 = 0, biga = 0;
  double cutsq = 0;
  // (βζ) thresholds of LAMMPS's ters_bij: c1 > c2 mark "large", c4 < c3 "small".
  double bij_c1 = 0, bij_c2 = 0, bij_c3 = 0, bij_c4 = 0;
};

struct TersoffLeg {
  double dr[3];    // r_ik (Å)
  double rhat[3];  // r_ik / r
  double r, rinv, rsq;
  double dzeta[3];  // ∂ζ_ij/∂r_k for the current j
  int k;
  int type;
  int in_zeta;  // whether k is within the (i,j,k) range of the current j
};

// f_C and its derivative.
KOKKOS_INLINE_FUNCTION void cutoff_function(double r, const TersoffTriplet& p, double& fc,
                                            double& dfc) {
  if (r < p.bigr - p.bigd) {
    fc = 1.0;
    dfc = 0.0;
  } else if (r > p.bigr + p.bigd) {
    fc = 0.0;
    dfc = 0.0;
  } else {
    const double half_pi = 0.5 * units::pi, quarter_pi = 0.25 * units::pi;
    const double phase = half_pi * (r - p.bigr) / p.bigd;
    fc = 0.5 * (1.0 - kmath::sin(phase));
    dfc = -(quarter_pi / p.bigd) * kmath::cos(phase);
  }
}

// b_ij and db_ij/dζ as LAMMPS's ters_bij / ters_bij_d.
KOKKOS_INLINE_FUNCTION void bond_order(double zeta, const TersoffTriplet& p, double& b,
                                       double& db) {
  const double tmp = p.beta * zeta;
  if (tmp > p.bij_c1) {
    const double root = kmath::sqrt(tmp);
    b = 1.0 / root;
    db = p.beta * -0.5 / (tmp * root);
  } else if (tmp > p.bij_c2) {
    const double root = kmath::sqrt(tmp);
    const double tmp_minus_n = kmath::pow(tmp, -p.n);
    b = (1.0 - tmp_minus_n / (2.0 * p.n)) / root;
    db = p.beta * (-0.5 / (tmp * root) * (1.0 - (1.0 + 1.0 / (2.0 * p.n)) * tmp_minus_n));
  } else if (tmp < p.bij_c4) {
    b = 1.0;
    db = 0.0;
  } else if (tmp < p.bij_c3) {
    b = 1.0 - kmath::pow(tmp, p.n) / (2.0 * p.n);
    db = -0.5 * p.beta * kmath::pow(tmp, p.n - 1.0);
  } else {
    const double tmp_n = kmath::pow(tmp, p.n);
    b = kmath::pow(1.0 + tmp_n, -1.0 / (2.0 * p.n));
    // (1 + tⁿ)^(−1−1/2n) = b / (1 + tⁿ): saves a pow.
    db = -0.5 * b / (1.0 + tmp_n) * tmp_n / zeta;
  }
}

// The physics of many_body_loop.hpp: for each bond i–j in range, the
// repulsion, ζ_ij over the other legs k, and the attraction b_ij f_A(r_ij).
struct TersoffBody : TripletParams<TersoffTriplet> {
  using Leg = TersoffLeg;
  Kokkos::View<const double*, MemSpace> short_cutsq;  // per (i, k) types, see bind()

  KOKKOS_INLINE_FUNCTION bool keep(ManyBodySite& site, int k, int tk, const double dr[3],
                                   double rsq, TersoffLeg* leg) const {
    if (rsq >= short_cutsq(site.type * n + tk)) return false;
    if (leg != nullptr) fill(*leg, k, tk, dr, rsq);
    return true;
  }

  KOKKOS_INLINE_FUNCTION TersoffLeg leg(int, int k, int tk, const double dr[3], double rsq) const {
    TersoffLeg made{};
    fill(made, k, tk, dr, rsq);
    return made;
  }

  // The leg's geometry (its dzeta and in_zeta are the terms' to write).
  KOKKOS_INLINE_FUNCTION static void fill(TersoffLeg& leg, int k, int tk, const double dr[3],
                                          double rsq) {
    leg.r = kmath::sqrt(rsq);
    leg.rinv = 1.0 / leg.r;
    leg.rsq = rsq;
    for (int d = 0; d < 3; ++d) {
      leg.dr[d] = dr[d];
      leg.rhat[d] = dr[d] * leg.rinv;
    }
    leg.k = k;
    leg.type = tk;
  }

  // With stored legs (Legs::stored) ζ's pass keeps each k's ∂ζ/∂r_k in its
  // leg for the forces; otherwise the forces' pass makes it again, with the
  // same arithmetic (LAMMPS KOKKOS's form).
  template <class Legs>
  KOKKOS_INLINE_FUNCTION void terms(ManyBodySite& site, const Legs& legs, int count) const {
    for (int a = 0; a < count; ++a) {
      const TersoffLeg& bond = legs(a);
      const TersoffTriplet& pij = triplet(site.type, bond.type, bond.type);
      if (bond.rsq >= pij.cutsq) continue;
      double fc, dfc;
      cutoff_function(bond.r, pij, fc, dfc);
      const double repulsion = pij.biga * kmath::exp(-pij.lam1 * bond.r);
      site.add_pair(bond.dr, fc * repulsion, -repulsion * (dfc - fc * pij.lam1) * bond.rinv);
      double dzeta_j[3];
      const double zeta = zeta_and_derivatives(site.type, legs, count, a, bond, dzeta_j);

      // Attraction b_ij f_A(r_ij) with f_A = −B e^{−λ2 r} f_C.
      const double attraction = pij.bigb * kmath::exp(-pij.lam2 * bond.r);
      const double fa = -attraction * fc;
      const double fa_d = attraction * (pij.lam2 * fc - dfc);
      double bij, dbij;
      bond_order(zeta, pij, bij, dbij);
      site.energy += 0.5 * bij * fa;
      const double fattr = 0.5 * bij * fa_d * bond.rinv;
      // −∂E/∂ζ_ij: scales ∂ζ/∂r into forces.
      const double prefactor = -0.5 * fa * dbij;
      double fj[3];
      for (int d = 0; d < 3; ++d) fj[d] = -fattr * bond.dr[d] + prefactor * dzeta_j[d];
      site.add_neighbor_force(bond.k, bond.dr, fj);
      for (int b = 0; b < count; ++b) {
        if (b == a) continue;
        const TersoffLeg& other = legs(b);
        double fk[3];
        if constexpr (Legs::stored) {
          if (!other.in_zeta) continue;
          for (int d = 0; d < 3; ++d) fk[d] = prefactor * other.dzeta[d];
        } else {
          double unused_zeta = 0, unused_dzeta_j[3] = {0, 0, 0}, dzeta_k[3];
          if (!zeta_term(site.type, bond, other, unused_zeta, unused_dzeta_j, dzeta_k)) continue;
          for (int d = 0; d < 3; ++d) fk[d] = prefactor * dzeta_k[d];
        }
        site.add_neighbor_force(other.k, other.dr, fk);
      }
    }
  }

  // ζ_ij for the bond legs(a), its derivative with respect to r_j into
  // dzeta_j, and, with stored legs, with respect to each r_k into
  // legs(b).dzeta (legs(b).in_zeta marks the k within range).
  template <class Legs>
  KOKKOS_INLINE_FUNCTION double zeta_and_derivatives(int ti, const Legs& legs, int count, int a,
                                                     const TersoffLeg& bond,
                                                     double dzeta_j[3]) const {
    double zeta = 0.0;
    for (int d = 0; d < 3; ++d) dzeta_j[d] = 0.0;
    for (int b = 0; b < count; ++b) {
      if (b == a) continue;
      if constexpr (Legs::stored) {
        TersoffLeg& other = legs(b);
        other.in_zeta = zeta_term(ti, bond, other, zeta, dzeta_j, other.dzeta);
      } else {
        double unused_dzeta_k[3];
        zeta_term(ti, bond, legs(b), zeta, dzeta_j, unused_dzeta_k);
      }
    }
    return zeta;
  }

  // Whether k (other) is within the (i,j,k) range of the bond i–j; if so adds
  // its share of ζ_ij to zeta and of ∂ζ_ij/∂r_j to dzeta_j, and writes
  // ∂ζ_ij/∂r_k into dzeta_k.
  KOKKOS_INLINE_FUNCTION bool zeta_term(int ti, const TersoffLeg& bond, const TersoffLeg& other,
                                        double& zeta, double dzeta_j[3], double dzeta_k[3]) const {
    const TersoffTriplet& p = triplet(ti, bond.type, other.type);
    if (other.rsq >= p.cutsq) return false;
    double fck, dfck;
    cutoff_function(other.r, p, fck, dfck);
    const double difference = bond.r - other.r;
    const double linear = p.lam3 * difference;
    const double argument = p.m == 3 ? linear * linear * linear : linear;
    const double ex = argument > 69.0776 ? 1.e30 : argument < -69.0776 ? 0.0 : kmath::exp(argument);
    const double ex_d =
        p.m == 3 ? 3.0 * p.lam3 * p.lam3 * p.lam3 * difference * difference * ex : p.lam3 * ex;
    const double cos_theta =
        bond.rhat[0] * other.rhat[0] + bond.rhat[1] * other.rhat[1] + bond.rhat[2] * other.rhat[2];
    const double hcth = p.h - cos_theta;
    const double inverse = 1.0 / (p.d2 + hcth * hcth);
    const double g = p.gamma * (1.0 + p.c2 / p.d2 - p.c2 * inverse);
    const double dg = p.gamma * (-2.0 * p.c2 * hcth) * inverse * inverse;
    zeta += fck * g * ex;
    const double angular = fck * dg * ex;
    const double radial = fck * g * ex_d;
    const double cutoff_term = dfck * g * ex;
    for (int d = 0; d < 3; ++d) {
      const double dcos_j = (other.rhat[d] - cos_theta * bond.rhat[d]) * bond.rinv;
      const double dcos_k = (bond.rhat[d] - cos_theta * other.rhat[d]) * other.rinv;
      dzeta_j[d] += angular * dcos_j + radial * bond.rhat[d];
      dzeta_k[d] = cutoff_term * other.rhat[d] + angular * dcos_k - radial * other.rhat[d];
    }
    return true;
  }
};

const std::vector<std::string> tersoff_value_names = {
    "m",    "gamma",   "lambda3", "c", "d", "costheta0", "n",
    "beta", "lambda2", "B",       "R", "D", "lambda1",   "A"};

class Tersoff final : public Potential {
 public:
  Tersoff(const std::string& arguments, const std::filesystem::path& config_dir)
      : file_("tersoff", arguments, tersoff_value_names, config_dir) {
    for (const auto& entry : file_.entries()) {
      check(entry);
      cutoff_ = std::max(cutoff_, entry.values[10] + entry.values[11]);
    }
  }

  std::string spec() const override { return "tersoff:" + file_.spec_argument(); }
  std::vector<std::filesystem::path> parameter_files() const override { return {file_.path()}; }
  double cutoff() const override { return cutoff_; }
  std::vector<int> elements() const override { return file_.elements(); }

  void bind(const std::vector<int>& species) override {
    const int n = static_cast<int>(species.size());
    const auto triplets = derive_triplets<TersoffTriplet>(file_, species, derive);
    // Atom k takes part in i's terms within (i,k,k)'s range as a bond partner and
    // within (i,j,k)'s range for some j in ζ_ij: the short list keeps both.
    std::vector<double> short_cutsq(n * n, 0.0), reach_sq(n, 0.0);
    double range_sq = 0;
    for (int a = 0; a < n; ++a) {
      for (int c = 0; c < n; ++c) {
        for (int b = 0; b < n; ++b)
          short_cutsq[a * n + c] =
              std::max(short_cutsq[a * n + c], triplets[(a * n + b) * n + c].cutsq);
        reach_sq[a] = std::max(reach_sq[a], short_cutsq[a * n + c]);
      }
      range_sq = std::max(range_sq, reach_sq[a]);
    }
    params_ = triplet_params("Tersoff", triplets, reach_sq);
    short_cutsq_ = to_device("Tersoff::short_cutsq", short_cutsq);
    cutoff_ = std::sqrt(range_sq);
    warn_if_asymmetric("tersoff", "repulsive", file_, species, triplets,
                       [](const TersoffTriplet& ab, const TersoffTriplet& ba) {
                         return ab.biga != ba.biga || ab.lam1 != ba.lam1 || ab.bigr != ba.bigr ||
                                ab.bigd != ba.bigd;
                       });
  }

  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    return loop_.compute(TersoffBody{{params_}, short_cutsq_},
                         params_.n == static_cast<int>(state.species.size()), cutoff_, state, list,
                         request);
  }

 private:
  // LAMMPS's PairTersoff::read_file checks.
  void check(const TripletEntry& entry) const {
    const auto& v = entry.values;
    const std::string triplet = entry.labels[0] + " " + entry.labels[1] + " " + entry.labels[2];
    auto fail = [&](const std::string& why) {
      throw Error(file_.where(entry.line) + why + " for " + triplet +
                  " (LAMMPS: illegal Tersoff parameter)");
    };
    if (v[0] != 1.0 && v[0] != 3.0) fail("m must be 1 or 3");
    for (int k : {1, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13})
      if (v[k] < 0) fail(tersoff_value_names[k] + " is negative");
    if (v[11] > v[10]) fail("D is larger than R");
  }

  // LAMMPS's PairTersoff::setup_params for one entry.
  static TersoffTriplet derive(const TripletEntry& entry) {
    const auto& v = entry.values;
    TersoffTriplet t;
    t.m = static_cast<int>(v[0]);
    t.gamma = v[1];
    t.lam3 = v[2];
    t.c2 = v[3] * v[3];
    t.d2 = v[4] * v[4];
    t.h = v[5];
    t.n = v[6];
    t.beta = v[7];
    t.lam2 = v[8];
    t.bigb = v[9];
    t.bigr = v[10];
    t.bigd = v[11];
    t.lam1 = v[12];
    t.biga = v[13];
    const double cut = t.bigr + t.bigd;
    t.cutsq = cut * cut;
    t.bij_c1 = std::pow(2.0 * t.n * 1.0e-16, -1.0 / t.n);
    t.bij_c2 = std::pow(2.0 * t.n * 1.0e-8, -1.0 / t.n);
    t.bij_c3 = 1.0 / t.bij_c2;
    t.bij_c4 = 1.0 / t.bij_c1;
    return t;
  }

  TripletParameterFile file_;
  double cutoff_ = 0;
  TripletParams<TersoffTriplet> params_;  // reach: the largest of the centre's short_cutsq_ row
  Kokkos::View<double*, MemSpace> short_cutsq_;
  ManyBodyLoop<TersoffBody> loop_{"tersoff", "Tersoff"};
};

}  // namespace

std::unique_ptr<Potential> make_tersoff(const std::string& arguments,
                                        const std::filesystem::path& config_dir) {
  return std::make_unique<Tersoff>(arguments, config_dir);
}

}  // namespace otfgp
