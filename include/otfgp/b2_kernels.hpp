#pragma once
// The device side of the B2 descriptor: radial basis, cutoff, real spherical
// harmonics, the density A_{s n l m}, the power spectrum B2 and the two
// contractions of its chain rule. B2Descriptor::compute (training: values and
// full gradients copied to the host) and the mapped GP potential (MD: the
// energy gradient contracted on the fly) both call these and nothing else, so
// there is one implementation of the descriptor.
//
// Layouts (every caller relies on them):
//   harmonic index      lm = l² + l + m,  m = −l … l,  n_harmonics = (l_max + 1)²
//   radial channel      p  = s · n_max + n  (s: descriptor species, n: radial function)
//   density             A[p · n_harmonics + lm]
//   descriptor          d[pair(p, p′) · (l_max + 1) + l] for p ≤ p′, pair() row-major upper
//   triangle pair gradient       ∂d/∂r_ij as 3 rows (x, y, z) of D numbers

#include <cmath>
#include <vector>

#include "otfgp/b2_descriptor.hpp"
#include "otfgp/neighbor_list.hpp"
#include "otfgp/types.hpp"

namespace otfgp::b2 {

// Limits of the fixed-size per-thread arrays (B2Settings::validate enforces them).
inline constexpr int max_l = 10;
inline constexpr int max_radial = 24;
inline constexpr int max_harmonics = (max_l + 1) * (max_l + 1);
inline constexpr int max_legendre = (max_l + 1) * (max_l + 2) / 2;

KOKKOS_INLINE_FUNCTION int harmonic_index(int l, int m) {
  return l * l + l + m;
}
KOKKOS_INLINE_FUNCTION int legendre_index(int l, int m) {
  return l * (l + 1) / 2 + m;
}

// Adds v to *target; atomically only when several threads of a team may touch it.
template <class Team>
KOKKOS_INLINE_FUNCTION void team_add(const Team& team, double* target, double v) {
  if (team.team_size() > 1)
    Kokkos::atomic_add(target, v);
  else
    *target += v;
}

// Real spherical harmonics without the Condon–Shortley phase (Y_11 ∝ x, Y_1−1 ∝ y,
// Y_10 ∝ z), orthonormal on the unit sphere. Built from normalised associated
// Legendre functions P̄_l^m(z) (the factor (1 − z²)^{m/2} left out) by the stable
// upward recurrence in l, and from (x + iy)^m = C_m + i S_m by complex
// multiplication, so every l is the same code:
//   Y_l0 = P̄_l^0,  Y_lm = √2 P̄_l^m C_m,  Y_l,−m = √2 P̄_l^m S_m.
// Those are polynomials F(x, y, z) that equal Y on the sphere; the gradient with
// respect to r is the tangential part of ∇F at r̂ divided by |r|, so dP̄_l^m/dz =
// √((l − m)(l + m + 1)) P̄_l^{m+1} and ∂(C_m, S_m)/∂(x, y) give it exactly.
struct SphericalHarmonics {
  int l_max = 0;
  double diagonal[max_l + 1] = {};      // P̄_m^m / P̄_{m−1}^{m−1}
  double off_diagonal[max_l + 1] = {};  // P̄_{m+1}^m / (z P̄_m^m)
  double upward_a[max_legendre] = {};   // P̄_l^m = a (z P̄_{l−1}^m − b P̄_{l−2}^m)
  double upward_b[max_legendre] = {};
  double derivative[max_legendre] = {};  // dP̄_l^m/dz = derivative · P̄_l^{m+1}

  static SphericalHarmonics create(int l_max);  // host; throws for l_max outside 0 … max_l

  // Y[lm] and, when gradient is non-null, gradient[3 lm + c] = ∂Y_lm(r̂)/∂r_c (1/Å).
  KOKKOS_INLINE_FUNCTION void evaluate(const double r[3], double* Y, double* gradient) const {
    const double inv_r = 1.0 / kmath::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    const double u[3] = {r[0] * inv_r, r[1] * inv_r, r[2] * inv_r};
    const double x = u[0], y = u[1], z = u[2];
    constexpr double y00 = 0.28209479177387814;  // 1/√(4π)
    constexpr double sqrt2 = 1.4142135623730951;

    double P[max_legendre];
    P[0] = y00;
    for (int m = 1; m <= l_max; ++m)
      P[legendre_index(m, m)] = diagonal[m] * P[legendre_index(m - 1, m - 1)];
    for (int m = 0; m < l_max; ++m)
      P[legendre_index(m + 1, m)] = off_diagonal[m] * z * P[legendre_index(m, m)];
    for (int m = 0; m <= l_max; ++m)
      for (int l = m + 2; l <= l_max; ++l) {
        const int k = legendre_index(l, m);
        P[k] = upward_a[k] *
               (z * P[legendre_index(l - 1, m)] - upward_b[k] * P[legendre_index(l - 2, m)]);
      }
    double C[max_l + 1], S[max_l + 1];
    C[0] = 1.0;
    S[0] = 0.0;
    for (int m = 1; m <= l_max; ++m) {
      C[m] = x * C[m - 1] - y * S[m - 1];
      S[m] = x * S[m - 1] + y * C[m - 1];
    }

    for (int l = 0; l <= l_max; ++l) {
      Y[harmonic_index(l, 0)] = P[legendre_index(l, 0)];
      for (int m = 1; m <= l; ++m) {
        const double p = sqrt2 * P[legendre_index(l, m)];
        Y[harmonic_index(l, m)] = p * C[m];
        Y[harmonic_index(l, -m)] = p * S[m];
      }
    }
    if (gradient == nullptr) return;

    // Tangential projection (G − r̂ (r̂·G)) / |r| of the polynomial gradient G.
    auto store = [&](int lm, double gx, double gy, double gz) {
      const double radial = x * gx + y * gy + z * gz;
      gradient[3 * lm + 0] = (gx - x * radial) * inv_r;
      gradient[3 * lm + 1] = (gy - y * radial) * inv_r;
      gradient[3 * lm + 2] = (gz - z * radial) * inv_r;
    };
    for (int l = 0; l <= l_max; ++l) {
      const double dz0 = l > 0 ? derivative[legendre_index(l, 0)] * P[legendre_index(l, 1)] : 0.0;
      store(harmonic_index(l, 0), 0.0, 0.0, dz0);
      for (int m = 1; m <= l; ++m) {
        const double p = sqrt2 * P[legendre_index(l, m)] * m;
        const double dz =
            m < l ? sqrt2 * derivative[legendre_index(l, m)] * P[legendre_index(l, m + 1)] : 0.0;
        store(harmonic_index(l, m), p * C[m - 1], -p * S[m - 1], dz * C[m]);
        store(harmonic_index(l, -m), p * S[m - 1], p * C[m - 1], dz * S[m]);
      }
    }
  }
};

inline SphericalHarmonics SphericalHarmonics::create(int l_max) {
  SphericalHarmonics table;
  table.l_max = l_max;
  for (int m = 1; m <= l_max; ++m) table.diagonal[m] = std::sqrt((2.0 * m + 1.0) / (2.0 * m));
  for (int m = 0; m < l_max; ++m) table.off_diagonal[m] = std::sqrt(2.0 * m + 3.0);
  for (int l = 0; l <= l_max; ++l)
    for (int m = 0; m <= l; ++m) {
      const int k = legendre_index(l, m);
      const double ll = double(l) * l, mm = double(m) * m;
      if (l >= m + 2) {
        table.upward_a[k] = std::sqrt((4.0 * ll - 1.0) / (ll - mm));
        const double lm1 = double(l - 1) * (l - 1);
        table.upward_b[k] = std::sqrt((lm1 - mm) / (4.0 * lm1 - 1.0));
      }
      table.derivative[k] = std::sqrt(double(l - m) * double(l + m + 1));
    }
  return table;
}

// Chebyshev polynomials T_n(ξ), ξ = 2(r − r_min)/(r_cut − r_min) − 1 ∈ [−1, 1], times
// the cutoff f_c = (r_cut − r)², whose value and slope vanish at r_cut:
// value[n] = T_n(ξ) f_c(r) and slope[n] = d value[n]/dr for n < n_max.
KOKKOS_INLINE_FUNCTION void radial_basis(double r, double r_min, double r_cut, int n_max,
                                         double* value, double* slope) {
  const double scale = 2.0 / (r_cut - r_min);
  const double xi = (r - r_min) * scale - 1.0;
  const double gap = r_cut - r;
  const double fc = gap * gap, dfc = -2.0 * gap;
  // T_n = 2ξ T_{n−1} − T_{n−2};  T′_n = 2 T_{n−1} + 2ξ T′_{n−1} − T′_{n−2}.
  double t_prev = 1.0, t = xi, dt_prev = 0.0, dt = 1.0;
  value[0] = fc;
  slope[0] = dfc;
  for (int n = 1; n < n_max; ++n) {
    if (n > 1) {
      const double t_next = 2.0 * xi * t - t_prev;
      const double dt_next = 2.0 * t + 2.0 * xi * dt - dt_prev;
      t_prev = t;
      t = t_next;
      dt_prev = dt;
      dt = dt_next;
    }
    value[n] = t * fc;
    slope[n] = dt * scale * fc + t * dfc;
  }
}

// One neighbour's basis terms: R_n f_c, their r-slopes, Y_lm and ∂Y_lm/∂r.
struct NeighborTerms {
  double r[3];
  double distance;
  int species;  // descriptor species of the neighbour
  double radial[max_radial];
  double radial_slope[max_radial];
  double harmonic[max_harmonics];
  double harmonic_gradient[3 * max_harmonics];
};

// What the kernels need of a B2Settings and one atom state, as plain views.
struct B2Basis {
  int n_species = 0;
  int n_max = 0;
  int l_max = 0;
  int n_radial = 0;     // n_species · n_max channels p
  int n_harmonics = 0;  // (l_max + 1)²
  int density_size = 0;
  int size = 0;  // D
  double r_min = 0.0;
  SphericalHarmonics harmonics;
  Kokkos::View<const double**, MemSpace> cutoff;  // [s_i][s_j], Å
  Kokkos::View<const int*, MemSpace> type_map;    // state species index → descriptor species

  // Host: tables from validated settings; bind() fills type_map for a state.
  static B2Basis create(const B2Settings& settings);
  // Maps the state's atomic numbers onto the descriptor's species; throws
  // otfgp::Error naming an element the descriptor lacks.
  void bind(const B2Settings& settings, const std::vector<int>& state_species);

  KOKKOS_INLINE_FUNCTION int pair_index(int p, int q) const {
    return p * n_radial - p * (p - 1) / 2 + (q - p);
  }

  // Whether pair k of atom i (descriptor species s_i) lies within its pair cutoff.
  KOKKOS_INLINE_FUNCTION bool within_cutoff(const NeighborView& neighbors, const VecView& x,
                                            const IntView& type, int i, int s_i, int k) const {
    double r[3];
    neighbors.delta(x, i, k, r);
    const double rc = cutoff(s_i, type_map(type(neighbors.index(k))));
    return r[0] * r[0] + r[1] * r[1] + r[2] * r[2] < rc * rc;
  }

  // The terms of pair k of atom i (descriptor species s_i) when it lies within
  // the pair cutoff; false otherwise. Harmonic gradients only when asked.
  KOKKOS_INLINE_FUNCTION bool neighbor_terms(const NeighborView& neighbors, const VecView& x,
                                             const IntView& type, int i, int s_i, int k,
                                             bool gradients, NeighborTerms& terms) const {
    neighbors.delta(x, i, k, terms.r);
    const double r2 = terms.r[0] * terms.r[0] + terms.r[1] * terms.r[1] + terms.r[2] * terms.r[2];
    terms.species = type_map(type(neighbors.index(k)));
    const double rc = cutoff(s_i, terms.species);
    if (r2 >= rc * rc) return false;
    terms.distance = kmath::sqrt(r2);
    radial_basis(terms.distance, r_min, rc, n_max, terms.radial, terms.radial_slope);
    harmonics.evaluate(terms.r, terms.harmonic, gradients ? terms.harmonic_gradient : nullptr);
    return true;
  }

  // A_{s n lm} += R_n Y_lm for the neighbour's species block.
  template <class Team>
  KOKKOS_INLINE_FUNCTION void add_density(const Team& team, const NeighborTerms& terms,
                                          double* A) const {
    double* block = A + terms.species * n_max * n_harmonics;
    for (int n = 0; n < n_max; ++n)
      for (int lm = 0; lm < n_harmonics; ++lm)
        team_add(team, &block[n * n_harmonics + lm], terms.radial[n] * terms.harmonic[lm]);
  }

  // d = B2(A) for the channels p handled by this thread.
  KOKKOS_INLINE_FUNCTION void power_spectrum_row(int p, const double* A, double* d) const {
    const double* Ap = A + p * n_harmonics;
    for (int q = p; q < n_radial; ++q) {
      const double* Aq = A + q * n_harmonics;
      double* out = d + pair_index(p, q) * (l_max + 1);
      for (int l = 0; l <= l_max; ++l) {
        double sum = 0.0;
        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) sum += Ap[lm] * Aq[lm];
        out[l] = sum;
      }
    }
  }

  // Adjoint of B2: ∂ε/∂A_p = Σ_q ∂ε/∂d_{pair(p,q), l} A_q (twice for q = p), row p.
  KOKKOS_INLINE_FUNCTION void power_spectrum_adjoint_row(int p, const double* A,
                                                         const double* dE_dd, double* dE_dA) const {
    double* out = dE_dA + p * n_harmonics;
    for (int lm = 0; lm < n_harmonics; ++lm) out[lm] = 0.0;
    for (int q = 0; q < n_radial; ++q) {
      const double* Aq = A + q * n_harmonics;
      const double* w = dE_dd + (p <= q ? pair_index(p, q) : pair_index(q, p)) * (l_max + 1);
      const double factor = q == p ? 2.0 : 1.0;
      for (int l = 0; l <= l_max; ++l) {
        const double wl = factor * w[l];
        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) out[lm] += wl * Aq[lm];
      }
    }
  }

  // ∂ε/∂r_ij = Σ_{n lm} ∂ε/∂A_{s_j n lm} ∂(R_n Y_lm)/∂r_ij, factored as
  // r̂ Σ_n R′_n (Σ_lm w_nlm Y_lm) + Σ_lm ∇Y_lm (Σ_n R_n w_nlm).
  KOKKOS_INLINE_FUNCTION void contract_gradient(const NeighborTerms& terms, const double* dE_dA,
                                                double g[3]) const {
    const double* w = dE_dA + terms.species * n_max * n_harmonics;
    double radial_part = 0.0;
    double angular[max_harmonics];
    for (int lm = 0; lm < n_harmonics; ++lm) angular[lm] = 0.0;
    for (int n = 0; n < n_max; ++n) {
      const double* wn = w + n * n_harmonics;
      const double Rn = terms.radial[n];
      double wy = 0.0;
      for (int lm = 0; lm < n_harmonics; ++lm) {
        wy += wn[lm] * terms.harmonic[lm];
        angular[lm] += Rn * wn[lm];
      }
      radial_part += terms.radial_slope[n] * wy;
    }
    const double scale = radial_part / terms.distance;
    g[0] = scale * terms.r[0];
    g[1] = scale * terms.r[1];
    g[2] = scale * terms.r[2];
    for (int lm = 0; lm < n_harmonics; ++lm) {
      g[0] += angular[lm] * terms.harmonic_gradient[3 * lm + 0];
      g[1] += angular[lm] * terms.harmonic_gradient[3 * lm + 1];
      g[2] += angular[lm] * terms.harmonic_gradient[3 * lm + 2];
    }
  }

  // The full ∂d/∂r_ij (3 × D) for the training path: out(c, e) for c = x, y, z.
  // Only channels p of the neighbour's species have ∂A_p/∂r_ij ≠ 0.
  template <class Out>
  KOKKOS_INLINE_FUNCTION void pair_gradient(const NeighborTerms& terms, const double* A,
                                            const Out& out) const {
    for (int c = 0; c < 3; ++c)
      for (int e = 0; e < size; ++e) out(c, e) = 0.0;
    const double u[3] = {terms.r[0] / terms.distance, terms.r[1] / terms.distance,
                         terms.r[2] / terms.distance};
    for (int n = 0; n < n_max; ++n) {
      const int p = terms.species * n_max + n;
      double dA[3][max_harmonics];
      for (int lm = 0; lm < n_harmonics; ++lm)
        for (int c = 0; c < 3; ++c)
          dA[c][lm] = terms.radial_slope[n] * u[c] * terms.harmonic[lm] +
                      terms.radial[n] * terms.harmonic_gradient[3 * lm + c];
      for (int q = 0; q < n_radial; ++q) {
        const double* Aq = A + q * n_harmonics;
        const int first = (p <= q ? pair_index(p, q) : pair_index(q, p)) * (l_max + 1);
        const double factor = q == p ? 2.0 : 1.0;
        for (int l = 0; l <= l_max; ++l)
          for (int c = 0; c < 3; ++c) {
            double sum = 0.0;
            for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) sum += dA[c][lm] * Aq[lm];
            out(c, first + l) += factor * sum;
          }
      }
    }
  }
};

}  // namespace otfgp::b2
