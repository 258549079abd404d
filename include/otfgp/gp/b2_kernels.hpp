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
//   radial channel      p  = c · n_max + n  (c: channel block, n: radial function); species-
//                       resolved: c = s, the neighbour's descriptor species; with an
//                       embedding W: every c, the neighbour weighted by W_{c s}
//   density             A[p · n_harmonics + lm]
//   descriptor          d[pair(p, p′) · (l_max + 1) + l] for p ≤ p′, pair() row-major upper
//                       triangle; then, with the two-body block, d[power_size + p] = A[p ·
//                       n_harmonics]
//   pair gradient       ∂d/∂r_ij as 3 rows (x, y, z) of D numbers

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "otfgp/core/error.hpp"
#include "otfgp/core/neighbor_list.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/gp/b2_descriptor.hpp"

namespace otfgp::b2 {

// Limits that B2Settings::validate enforces: l_max sizes the harmonics' tables
// and the per-thread arrays of every lm of the host's force contraction
// (swept_sums) and of the training gradient (pair_gradient); n_max is bounded only
// as a sanity check (the terms live in scratch sized for the basis, B2Basis::terms_scratch_bytes).
inline constexpr int max_l = 10;
inline constexpr int max_radial = 24;
inline constexpr int max_harmonics = (max_l + 1) * (max_l + 1);
inline constexpr int max_legendre = (max_l + 1) * (max_l + 2) / 2;

// The team scratch level for `bytes` per team: beyond 32 KiB level 1 (a GPU's
// level 0 is small). Used by every B2 team kernel (descriptor, pull-back, GP).
inline int scratch_level(std::size_t bytes) {
  return bytes <= 32 * 1024 ? 0 : 1;
}

// Where a team kernel keeps the team's own arrays (team_bytes) and each
// thread's (thread_bytes for each of `threads`): the team's at level 0 while
// they fit, the threads' with them while all fits; else at level 1 (a CUDA
// launch asking for more level 0 than a block's shared memory throws).
struct ScratchLevels {
  int team = 0, thread = 0;
};
inline ScratchLevels scratch_levels(std::size_t team_bytes, std::size_t thread_bytes,
                                    std::size_t threads) {
  const int team = scratch_level(team_bytes);
  return {team, scratch_level((team == 0 ? team_bytes : 0) + threads * thread_bytes)};
}

// A team kernel's scratch, per level: each team's bytes and each thread's.
// on() sets them on a policy for teams of `threads` (0: the backend's choice,
// counted as a GPU warp of 32) after checking that no level asks more of a
// team than TeamPolicy::scratch_size_max gives (level 0: 32 KiB on the host,
// a block's shared memory less Kokkos's reserve on a GPU; level 1: 20 MiB).
// The host checks too, where one pool serves both levels and nothing would
// fail, so that what a GPU launch refuses fails in CI. Runs every launch (the
// MD step's GP kernels): arithmetic only, the name is text only on error.
struct TeamScratch {
  std::size_t team[2] = {0, 0}, thread[2] = {0, 0};

  TeamScratch& per_team(int level, std::size_t bytes) {
    team[level] += bytes;
    return *this;
  }
  TeamScratch& per_thread(int level, std::size_t bytes) {
    thread[level] += bytes;
    return *this;
  }
  template <class Policy>
  Policy on(Policy policy, int threads, const char* kernel) const {
    const std::size_t count = threads > 0 ? std::size_t(threads) : 32;
    for (int level = 0; level < 2; ++level) {
      const std::size_t bytes = team[level] + count * thread[level];
      const std::size_t limit = std::size_t(Policy::scratch_size_max(level));
      if (bytes > limit)
        throw Error(std::string(kernel) + " needs " + std::to_string(bytes) + " bytes of level-" +
                    std::to_string(level) + " scratch per team of " + std::to_string(count) +
                    " threads, more than the backend gives a team (" + std::to_string(limit) +
                    "): a smaller model (species, n_max, l_max, sparse points) or team fits");
      if (team[level] > 0) policy.set_scratch_size(level, Kokkos::PerTeam(team[level]));
      if (thread[level] > 0) policy.set_scratch_size(level, Kokkos::PerThread(thread[level]));
    }
    return policy;
  }
};

// Doubles in a team's or a thread's scratch, for every B2 team kernel.
using ScratchView =
    Kokkos::View<double*, ExecSpace::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
// Indices in a team's scratch.
using IndexScratch =
    Kokkos::View<int*, ExecSpace::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

KOKKOS_INLINE_FUNCTION int harmonic_index(int l, int m) {
  return l * l + l + m;
}
KOKKOS_INLINE_FUNCTION int legendre_index(int l, int m) {
  return l * (l + 1) / 2 + m;
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

  // The harmonics of one (l, |m|): count 1 (m = 0) or 2 (+m, then −m), each
  // with its index lm, value Y_lm and gradient[3] = ∂F_lm/∂u_c.
  struct Pair {
    int count;
    int lm[2];
    double value[2];
    double gradient[2][3];
  };

  // Calls visit(pair) for every (l, |m|), the gradients at the unit vector u
  // when `gradients` (else zeros); their tangential part over |r| is ∂Y/∂r,
  // and callers that sum over lm first project the sum once (see project()).
  // In the order m = 0 … l_max, l = m … l_max, +m before −m:
  // column by column, with only running scalars (no per-thread arrays, which
  // a GPU keeps in local memory): P̄_l^m by the recurrence in l, C_m and S_m
  // by complex multiplication, and column m + 1 alongside for the z parts of
  // column m's gradients (dP̄_l^m/dz ∝ P̄_l^{m+1}).
  template <bool gradients, class Visit>
  KOKKOS_INLINE_FUNCTION void visit_unit(const double u[3], const Visit& visit) const {
    const double x = u[0], y = u[1], z = u[2];
    constexpr double y00 = 0.28209479177387814;  // 1/√(4π)
    constexpr double sqrt2 = 1.4142135623730951;

    double diagonal_P = y00;            // P̄_m^m
    double C = 1.0, S = 0.0;            // C_m, S_m
    double C_prev = 0.0, S_prev = 0.0;  // C_{m−1}, S_{m−1}
    for (int m = 0; m <= l_max; ++m) {
      if (m > 0) {
        diagonal_P = diagonal[m] * diagonal_P;
        C_prev = C;
        S_prev = S;
        C = x * C_prev - y * S_prev;
        S = x * S_prev + y * C_prev;
      }
      // P̄_{l−1}, P̄_{l−2} of columns m and m + 1.
      double back1 = 0.0, back2 = 0.0, next_back1 = 0.0, next_back2 = 0.0;
      for (int l = m; l <= l_max; ++l) {
        double P;
        if (l == m)
          P = diagonal_P;
        else if (l == m + 1)
          P = off_diagonal[m] * z * back1;
        else
          P = upward_a[legendre_index(l, m)] * (z * back1 - upward_b[legendre_index(l, m)] * back2);
        back2 = back1;
        back1 = P;
        double next = 0.0;  // P̄_l^{m+1}
        if (gradients && l > m) {
          if (l == m + 1)
            next = diagonal[m + 1] * diagonal_P;
          else if (l == m + 2)
            next = off_diagonal[m + 1] * z * next_back1;
          else
            next = upward_a[legendre_index(l, m + 1)] *
                   (z * next_back1 - upward_b[legendre_index(l, m + 1)] * next_back2);
          next_back2 = next_back1;
          next_back1 = next;
        }

        Pair pair{};
        if (m == 0) {
          pair.count = 1;
          pair.lm[0] = harmonic_index(l, 0);
          pair.value[0] = P;
          if (gradients && l > 0) pair.gradient[0][2] = derivative[legendre_index(l, 0)] * next;
          visit(pair);
          continue;
        }
        const double p = sqrt2 * P;
        pair.count = 2;
        pair.lm[0] = harmonic_index(l, m);
        pair.lm[1] = harmonic_index(l, -m);
        pair.value[0] = p * C;
        pair.value[1] = p * S;
        if (gradients) {
          const double dz = m < l ? sqrt2 * derivative[legendre_index(l, m)] * next : 0.0;
          const double slope = sqrt2 * m * P;
          pair.gradient[0][0] = slope * C_prev;
          pair.gradient[0][1] = -slope * S_prev;
          pair.gradient[0][2] = dz * C;
          pair.gradient[1][0] = slope * S_prev;
          pair.gradient[1][1] = slope * C_prev;
          pair.gradient[1][2] = dz * S;
        }
        visit(pair);
      }
    }
  }

  // Calls f(lm) for every harmonic in visit_unit's order.
  template <class F>
  KOKKOS_INLINE_FUNCTION void in_visit_order(const F& f) const {
    for (int m = 0; m <= l_max; ++m)
      for (int l = m; l <= l_max; ++l) {
        f(harmonic_index(l, m));
        if (m > 0) f(harmonic_index(l, -m));
      }
  }

  // Y[lm] at the unit vector u and, when polynomial_gradient is non-null,
  // polynomial_gradient[3 lm + c] = ∂F_lm/∂u_c at u (visit_unit).
  KOKKOS_INLINE_FUNCTION void evaluate_unit(const double u[3], double* Y,
                                            double* polynomial_gradient) const {
    double* G = polynomial_gradient;
    if (G == nullptr) {
      visit_unit<false>(u, [&](const Pair& pair) {
        for (int k = 0; k < pair.count; ++k) Y[pair.lm[k]] = pair.value[k];
      });
      return;
    }
    visit_unit<true>(u, [&](const Pair& pair) {
      for (int k = 0; k < pair.count; ++k) {
        Y[pair.lm[k]] = pair.value[k];
        for (int c = 0; c < 3; ++c) G[3 * pair.lm[k] + c] = pair.gradient[k][c];
      }
    });
  }

  // The gradient with respect to r of a function of r̂ whose polynomial
  // extension has gradient g at u = r̂: (g − u (u·g)) / |r|, in place.
  KOKKOS_INLINE_FUNCTION static void project(const double u[3], double inv_r, double g[3]) {
    const double along = u[0] * g[0] + u[1] * g[1] + u[2] * g[2];
    for (int c = 0; c < 3; ++c) g[c] = (g[c] - u[c] * along) * inv_r;
  }

  // Y[lm] and, when gradient is non-null, gradient[3 lm + c] = ∂Y_lm(r̂)/∂r_c (1/Å).
  KOKKOS_INLINE_FUNCTION void evaluate(const double r[3], double* Y, double* gradient) const {
    const double inv_r = 1.0 / kmath::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    const double u[3] = {r[0] * inv_r, r[1] * inv_r, r[2] * inv_r};
    evaluate_unit(u, Y, gradient);
    if (gradient == nullptr) return;
    const int count = (l_max + 1) * (l_max + 1);
    for (int lm = 0; lm < count; ++lm) project(u, inv_r, gradient + 3 * lm);
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

// One neighbour's basis terms, flat so that a team can keep them in scratch
// between the density pass and the force pass:
//   [0, 3) r_ij   [3] |r_ij|   [4] neighbour's descriptor species   [5] neighbour atom j
//   then R_n f_c (n_max), their r-slopes (n_max), Y_lm (n_harmonics), and the polynomial
//   gradients ∂F_lm/∂u_c at r̂ (3 n_harmonics; SphericalHarmonics::project gives ∂Y/∂r).
inline constexpr int terms_header = 6;
// How much of those a kernel makes: the radial terms only (a team's force
// contraction makes the harmonics as it uses them, streamed_sums), with the
// harmonics (a density), or with their gradients too.
enum class Terms { radial, harmonics, gradients };

// What the kernels need of a B2Settings and one atom state, as plain views.
struct B2Basis {
  int n_species = 0;
  int n_max = 0;
  int l_max = 0;
  int n_channels = 0;   // channel blocks c: n_species, or the embedding's rows
  int n_radial = 0;     // n_channels · n_max channels p
  int n_harmonics = 0;  // (l_max + 1)²
  int density_size = 0;
  int power_size = 0;  // the power spectrum's numbers
  int size = 0;        // D: power_size, plus n_radial with the two-body block
  double r_min = 0.0;
  SphericalHarmonics harmonics;
  Kokkos::View<const double**, MemSpace> cutoff;  // [s_i][s_j], Å
  Kokkos::View<const int*, MemSpace> type_map;    // state species index → descriptor species
  // [s][c] = W_{c s}; empty: species-resolved (W = identity, only c = s).
  Kokkos::View<const double**, MemSpace> embedding;

  // Doubles of one neighbour's terms, up to `what`.
  KOKKOS_INLINE_FUNCTION int terms_size(Terms what) const {
    return terms_header + 2 * n_max + (what == Terms::radial ? 0 : n_harmonics) +
           (what == Terms::gradients ? 3 * n_harmonics : 0);
  }
  // Scratch for one neighbour's terms, up to `what`, in each thread of a
  // kernel that makes them where it uses them: the policy asks for
  // Kokkos::PerThread(terms_scratch_bytes(what)) at terms_scratch_levels(…).thread,
  // the thread takes thread_terms(team, level, what). Sized for this basis, not for
  // the largest (a per-thread array of that size spills to local memory on a GPU).
  std::size_t terms_scratch_bytes(Terms what) const {
    return ScratchView::shmem_size(terms_size(what));
  }
  // The levels of a team's own `team_bytes` and of its threads' terms
  // (scratch_levels); team_size 0 (the backend's choice, which counts the
  // scratch on a GPU) is taken as a warp of 32.
  ScratchLevels terms_scratch_levels(std::size_t team_bytes, int team_size, Terms what) const {
    return scratch_levels(team_bytes, terms_scratch_bytes(what),
                          std::size_t(team_size > 0 ? team_size : 32));
  }
  template <class Team>
  KOKKOS_INLINE_FUNCTION double* thread_terms(const Team& team, int level, Terms what) const {
    return ScratchView(team.thread_scratch(level), terms_size(what)).data();
  }

  // Host: tables from validated settings; bind() fills type_map for a state.
  static B2Basis create(const B2Settings& settings);
  // Maps the state's atomic numbers onto the descriptor's species; throws
  // otfgp::Error naming an element the descriptor lacks.
  void bind(const B2Settings& settings, const std::vector<int>& state_species);

  KOKKOS_INLINE_FUNCTION int pair_index(int p, int q) const {
    return p * n_radial - p * (p - 1) / 2 + (q - p);
  }

  // The channel blocks [first, last) a neighbour of species s feeds, and its weight in c.
  KOKKOS_INLINE_FUNCTION bool embedded() const { return embedding.extent(0) > 0; }
  KOKKOS_INLINE_FUNCTION int first_channel(int s) const { return embedded() ? 0 : s; }
  KOKKOS_INLINE_FUNCTION int last_channel(int s) const { return embedded() ? n_channels : s + 1; }
  KOKKOS_INLINE_FUNCTION double channel_weight(int s, int c) const {
    return embedded() ? embedding(s, c) : 1.0;
  }

  KOKKOS_INLINE_FUNCTION static int term_species(const double* t) { return static_cast<int>(t[4]); }
  KOKKOS_INLINE_FUNCTION static int term_atom(const double* t) { return static_cast<int>(t[5]); }
  KOKKOS_INLINE_FUNCTION const double* term_radial(const double* t) const {
    return t + terms_header;
  }
  KOKKOS_INLINE_FUNCTION const double* term_slope(const double* t) const {
    return t + terms_header + n_max;
  }
  KOKKOS_INLINE_FUNCTION const double* term_harmonic(const double* t) const {
    return t + terms_header + 2 * n_max;
  }
  KOKKOS_INLINE_FUNCTION const double* term_polynomial_gradient(const double* t) const {
    return t + terms_header + 2 * n_max + n_harmonics;
  }

  // Whether pair k of atom i (descriptor species s_i) lies within its pair cutoff.
  KOKKOS_INLINE_FUNCTION bool within_cutoff(const NeighborView& neighbors, const VecView& x,
                                            const IntView& type, int i, int s_i, int k) const {
    double r[3];
    neighbors.delta(x, i, k, r);
    const double rc = cutoff(s_i, type_map(type(neighbors.index(k))));
    return r[0] * r[0] + r[1] * r[1] + r[2] * r[2] < rc * rc;
  }

  // The pairs k of atom i's list that lie within their pair cutoff (the list
  // holds the skin's too), in list order, into near[0 … count), count into
  // near[max_neighbors] (near: max_neighbors + 1 ints of team scratch), for a
  // team to spread only those over its threads: diamond Si's 46 entries at a
  // 5 Å cutoff and 1 Å skin hold 28 such pairs, one pass of a warp instead of
  // two, the second mostly idle. The threads test the pairs, one thread packs
  // them (a team scan took the force kernel from 168 to 248 registers on a
  // GPU). Returns count; ends with a team barrier.
  template <class Team>
  KOKKOS_INLINE_FUNCTION int pairs_within_cutoff(const Team& team, const NeighborView& neighbors,
                                                 const VecView& x, const IntView& type, int i,
                                                 int s_i, int max_neighbors, int* near) const {
    const int begin = neighbors.offsets(i), end = neighbors.offsets(i + 1);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, begin, end), [&](int k) {
      near[k - begin] = within_cutoff(neighbors, x, type, i, s_i, k) ? 1 : 0;
    });
    team.team_barrier();
    Kokkos::single(Kokkos::PerTeam(team), [&]() {
      int count = 0;
      for (int e = 0; e < end - begin; ++e)
        if (near[e] != 0) near[count++] = begin + e;
      near[max_neighbors] = count;
    });
    team.team_barrier();
    return near[max_neighbors];
  }

  // Fills t with the terms of pair k of atom i (descriptor species s_i), up
  // to `what`, when it lies within the pair cutoff; returns false otherwise.
  KOKKOS_INLINE_FUNCTION bool neighbor_terms(const NeighborView& neighbors, const VecView& x,
                                             const IntView& type, int i, int s_i, int k, Terms what,
                                             double* t) const {
    neighbors.delta(x, i, k, t);
    const double r2 = t[0] * t[0] + t[1] * t[1] + t[2] * t[2];
    const int j = neighbors.index(k);
    const int s_j = type_map(type(j));
    const double rc = cutoff(s_i, s_j);
    if (r2 >= rc * rc) return false;
    t[3] = kmath::sqrt(r2);
    t[4] = s_j;
    t[5] = j;
    double* radial = t + terms_header;
    radial_basis(t[3], r_min, rc, n_max, radial, radial + n_max);
    if (what == Terms::radial) return true;
    double* harmonic = radial + 2 * n_max;
    const double inv_r = 1.0 / t[3];
    const double u[3] = {t[0] * inv_r, t[1] * inv_r, t[2] * inv_r};
    harmonics.evaluate_unit(u, harmonic,
                            what == Terms::gradients ? harmonic + n_harmonics : nullptr);
    return true;
  }

  // A_{c n lm} += W_{c s_j} R_n Y_lm for the channel blocks the neighbour feeds.
  template <class Team>
  KOKKOS_INLINE_FUNCTION void add_density(const Team& team, const double* t, double* A) const {
    const int s = term_species(t);
    const double* radial = term_radial(t);
    const double* harmonic = term_harmonic(t);
    for (int c = first_channel(s); c < last_channel(s); ++c) {
      const double weight = channel_weight(s, c);
      if (weight == 0.0) continue;
      double* block = A + c * n_max * n_harmonics;
      if (team.team_size() > 1) {
        for (int n = 0; n < n_max; ++n)
          for (int lm = 0; lm < n_harmonics; ++lm)
            Kokkos::atomic_add(&block[n * n_harmonics + lm], weight * radial[n] * harmonic[lm]);
        continue;
      }
      const int count = n_harmonics;
      for (int n = 0; n < n_max; ++n) {
        double* KOKKOS_RESTRICT row = block + n * count;
        const double radial_n = weight * radial[n];
        for (int lm = 0; lm < count; ++lm) row[lm] += radial_n * harmonic[lm];
      }
    }
  }

  // A += Σ_k W_{c s_k} R_n(k) Y_lm(k) over the `count` neighbours' terms in
  // `cache`, `stride` apart (a negative distance marks one beyond its
  // cutoff), for a team of several threads: each thread takes elements of A
  // and adds the neighbours in order, so no two threads write one number
  // (add_density from every neighbour's thread needs an atomic per term) and
  // the sums are add_density's one-thread ones, number for number, also when
  // the neighbours come in several batches.
  template <class Team>
  KOKKOS_INLINE_FUNCTION void gather_density(const Team& team, const double* cache, int count,
                                             int stride, double* A) const {
    const int harmonics = n_harmonics, block = n_max * n_harmonics;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, density_size), [&](int a) {
      const int c = a / block, n = (a % block) / harmonics, lm = a % harmonics;
      double sum = A[a];
      for (int k = 0; k < count; ++k) {
        const double* t = cache + std::size_t(k) * stride;
        if (t[3] < 0.0) continue;
        const int s = term_species(t);
        if (c < first_channel(s) || c >= last_channel(s)) continue;
        const double weight = channel_weight(s, c);
        if (weight == 0.0) continue;
        sum += weight * term_radial(t)[n] * term_harmonic(t)[lm];
      }
      A[a] = sum;
    });
  }

  // What a team's cache of its neighbours' terms holds (density_and_terms),
  // and its doubles per neighbour (at most cached_terms(false)'s): the harmonics, for
  // the density, and their gradients where the force contraction reads them
  // (contracted_terms: one thread on the host).
  KOKKOS_INLINE_FUNCTION static Terms cached_terms(bool several_threads) {
    return contracted_terms(several_threads) == Terms::gradients ? Terms::gradients
                                                                 : Terms::harmonics;
  }
  template <class Team>
  KOKKOS_INLINE_FUNCTION int cache_stride(const Team& team) const {
    return terms_size(cached_terms(team.team_size() > 1));
  }

  // The density A of atom i (descriptor species s_i) from `count` pairs, the
  // q-th being pair pair_of(q) of the list, their terms up to `what` made in
  // batches of `batch` into `cache` (terms_size(what) doubles each; a negative
  // distance marks one beyond its cutoff). One thread adds each pair's terms
  // as it makes them; a team of several gathers each batch (gather_density),
  // so its cache holds a batch, not every pair. With batch ≥ count the cache
  // keeps every pair's terms (density_and_terms). Ends with a team barrier.
  template <class Team, class PairOf>
  KOKKOS_INLINE_FUNCTION void density_from_pairs(const Team& team, const NeighborView& neighbors,
                                                 const VecView& x, const IntView& type, int i,
                                                 int s_i, int count, PairOf pair_of, Terms what,
                                                 int batch, double* cache, double* A) const {
    const bool one_thread = team.team_size() == 1;
    const int stride = terms_size(what);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, density_size), [&](int a) { A[a] = 0.0; });
    team.team_barrier();
    for (int first = 0; first < count; first += batch) {
      const int n = count - first < batch ? count - first : batch;
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, n), [&](int q) {
        double* t = cache + std::size_t(q) * stride;
        if (!neighbor_terms(neighbors, x, type, i, s_i, pair_of(first + q), what, t))
          t[3] = -1.0;
        else if (one_thread)
          add_density(team, t, A);
      });
      team.team_barrier();
      if (one_thread) continue;
      gather_density(team, cache, n, stride, A);
      team.team_barrier();
    }
  }

  // The density A of atom i and, in `cache` (cache_stride(team) doubles per
  // entry), the terms of its list entries [begin, end), entry e being pair
  // pair_of(e) of the list (a negative distance marks one beyond its cutoff),
  // for a force pass after it (contract_gradient with several_threads = team
  // size > 1). Ends with a team barrier.
  template <class Team, class PairOf>
  KOKKOS_INLINE_FUNCTION void density_and_terms(const Team& team, const NeighborView& neighbors,
                                                const VecView& x, const IntView& type, int i,
                                                int s_i, int begin, int end, PairOf pair_of,
                                                double* cache, double* A) const {
    density_from_pairs(
        team, neighbors, x, type, i, s_i, end - begin, [&](int q) { return pair_of(begin + q); },
        cached_terms(team.team_size() > 1), end - begin, cache, A);
  }

  // d = B2(A) for the channels p handled by this thread. (Sizes are copied to
  // locals throughout: GCC vectorises loops whose bounds it can keep in registers.)
  KOKKOS_INLINE_FUNCTION void power_spectrum_row(int p, const double* A, double* d) const {
    const int count = n_harmonics, degrees = l_max + 1, channels = n_radial;
    const double* KOKKOS_RESTRICT Ap = A + p * count;
    for (int q = p; q < channels; ++q) {
      const double* KOKKOS_RESTRICT Aq = A + q * count;
      double* out = d + pair_index(p, q) * degrees;
      for (int l = 0; l < degrees; ++l) {
        double sum = 0.0;
        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) sum += Ap[lm] * Aq[lm];
        out[l] = sum;
      }
    }
  }

  // Adjoint of B2: ∂ε/∂A_p = Σ_q ∂ε/∂d_{pair(p,q), l} A_q (twice for q = p), row p.
  KOKKOS_INLINE_FUNCTION void power_spectrum_adjoint_row(int p, const double* A,
                                                         const double* dE_dd, double* dE_dA) const {
    const int count = n_harmonics, degrees = l_max + 1, channels = n_radial;
    double* KOKKOS_RESTRICT out = dE_dA + p * count;
    for (int lm = 0; lm < count; ++lm) out[lm] = 0.0;
    for (int q = 0; q < channels; ++q) {
      const double* KOKKOS_RESTRICT Aq = A + q * count;
      const double* w = dE_dd + (p <= q ? pair_index(p, q) : pair_index(q, p)) * degrees;
      const double factor = q == p ? 2.0 : 1.0;
      for (int l = 0; l < degrees; ++l) {
        const double wl = factor * w[l];
        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) out[lm] += wl * Aq[lm];
      }
    }
  }

  // Element e = pair_index(p, q) · (l_max + 1) + l of B2(A), e < power_size:
  // power_spectrum_row's sum, number for number.
  KOKKOS_INLINE_FUNCTION void power_spectrum_element(int e, const double* A, double* d) const {
    const int degrees = l_max + 1, count = n_harmonics, l = e % degrees;
    // The pair (p, q ≥ p) of index e / degrees, rows p of n_radial − p pairs.
    int p = 0, k = e / degrees;
    while (k >= n_radial - p) k -= n_radial - p++;
    const double* KOKKOS_RESTRICT Ap = A + p * count;
    const double* KOKKOS_RESTRICT Aq = A + (p + k) * count;
    double sum = 0.0;
    for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) sum += Ap[lm] * Aq[lm];
    d[e] = sum;
  }

  // Element e = p · n_harmonics + lm of the adjoint (∂ε/∂A):
  // power_spectrum_adjoint_row's sum, number for number.
  KOKKOS_INLINE_FUNCTION void power_spectrum_adjoint_element(int e, const double* A,
                                                             const double* dE_dd,
                                                             double* dE_dA) const {
    const int count = n_harmonics, degrees = l_max + 1, channels = n_radial;
    const int p = e / count, lm = e % count;
    int l = 0;
    while ((l + 1) * (l + 1) <= lm) ++l;
    double sum = 0.0;
    for (int q = 0; q < channels; ++q) {
      const double* w = dE_dd + (p <= q ? pair_index(p, q) : pair_index(q, p)) * degrees;
      const double factor = q == p ? 2.0 : 1.0;
      sum += factor * w[l] * A[q * count + lm];
    }
    dE_dA[e] = sum;
  }

  // B2(A) and its adjoint for a team: whole rows p on one thread (their
  // inner loops vectorise), single elements over a team of several (n_radial
  // rows of unequal length would keep as many threads busy: 8 of a warp for
  // the quickstart's model). The same numbers either way. Each ends with a
  // team barrier.
  template <class Team>
  KOKKOS_INLINE_FUNCTION void power_spectrum(const Team& team, const double* A, double* d) const {
    if (team.team_size() == 1)
      for (int p = 0; p < n_radial; ++p) power_spectrum_row(p, A, d);
    else
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, power_size),
                           [&](int e) { power_spectrum_element(e, A, d); });
    team.team_barrier();
  }
  template <class Team>
  KOKKOS_INLINE_FUNCTION void power_spectrum_adjoint(const Team& team, const double* A,
                                                     const double* dE_dd, double* dE_dA) const {
    if (team.team_size() == 1)
      for (int p = 0; p < n_radial; ++p) power_spectrum_adjoint_row(p, A, dE_dd, dE_dA);
    else
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, density_size),
                           [&](int e) { power_spectrum_adjoint_element(e, A, dE_dd, dE_dA); });
    team.team_barrier();
  }

  // The terms contract_gradient reads, for a team of several threads or not.
  KOKKOS_INLINE_FUNCTION static Terms contracted_terms(bool several_threads) {
    if constexpr (host_memory)
      return several_threads ? Terms::radial : Terms::gradients;
    else
      return Terms::radial;
  }

  // ∂ε/∂r_ij = Σ_{c n lm} ∂ε/∂A_{c n lm} W_{c s_j} ∂(R_n Y_lm)/∂r_ij, factored as
  // r̂ Σ_lm Y_lm (Σ_cn W R′_n w_cnlm) + Σ_lm ∇Y_lm (Σ_cn W R_n w_cnlm); the
  // tangential projection of the harmonics' gradients is linear, so it is
  // applied once to their sum. The inner sums in one of two forms, number for
  // number the same: on the host, one thread (several_threads false) sweeps
  // over w into per-thread arrays of every lm, which vectorise, from t's
  // harmonics (swept_sums); a team of several threads, and on a device every
  // thread (where such arrays live in local memory), takes one (l, |m|) at a
  // time, the harmonics made as they are used (streamed_sums: t's radial
  // terms suffice). t holds at least contracted_terms(several_threads).
  KOKKOS_INLINE_FUNCTION void contract_gradient(const double* t, const double* dE_dA, double g[3],
                                                bool several_threads) const {
    double radial_part = 0.0;
    double tangential[3] = {0.0, 0.0, 0.0};
    if (contracted_terms(several_threads) == Terms::gradients)
      swept_sums(t, dE_dA, radial_part, tangential);
    else
      streamed_sums(t, dE_dA, radial_part, tangential);
    const double inv_r = 1.0 / t[3];
    const double u[3] = {t[0] * inv_r, t[1] * inv_r, t[2] * inv_r};
    SphericalHarmonics::project(u, inv_r, tangential);
    for (int c = 0; c < 3; ++c) g[c] = radial_part * u[c] + tangential[c];
  }
  // contract_gradient's sums Σ_lm Y_lm along_lm and Σ_lm ∂F_lm angular_lm,
  // each form adding into radial_part and tangential.
  KOKKOS_INLINE_FUNCTION void swept_sums(const double* t, const double* dE_dA, double& radial_part,
                                         double tangential[3]) const {
    const int s = term_species(t);
    const double* radial = term_radial(t);
    const double* slope = term_slope(t);
    const int count = n_harmonics, radial_count = n_max;
    double angular[max_harmonics], along[max_harmonics];
    for (int lm = 0; lm < count; ++lm) angular[lm] = along[lm] = 0.0;
    for (int c = first_channel(s); c < last_channel(s); ++c) {
      const double weight = channel_weight(s, c);
      if (weight == 0.0) continue;
      const double* w = dE_dA + c * radial_count * count;
      for (int n = 0; n < radial_count; ++n) {
        const double* KOKKOS_RESTRICT wn = w + n * count;
        const double radial_n = weight * radial[n], slope_n = weight * slope[n];
        for (int lm = 0; lm < count; ++lm) {
          angular[lm] += radial_n * wn[lm];
          along[lm] += slope_n * wn[lm];
        }
      }
    }
    const double* harmonic = term_harmonic(t);
    const double* polynomial_gradient = term_polynomial_gradient(t);
    // In streamed_sums' order, so that both forms give the same numbers.
    harmonics.in_visit_order([&](int lm) {
      radial_part += along[lm] * harmonic[lm];
      for (int c = 0; c < 3; ++c) tangential[c] += angular[lm] * polynomial_gradient[3 * lm + c];
    });
  }
  // The same sums for a team of several threads (and on a device): one
  // (l, |m|) at a time, its ±m sharing the reads of the radial terms, with
  // the harmonics and their gradients made as they are used
  // (SphericalHarmonics::visit_unit), so t needs only its radial terms
  // (Terms::radial) and a thread keeps no array of every lm.
  KOKKOS_INLINE_FUNCTION void streamed_sums(const double* t, const double* dE_dA,
                                            double& radial_part, double tangential[3]) const {
    const int s = term_species(t);
    const double* radial = term_radial(t);
    const double* slope = term_slope(t);
    const int count = n_harmonics, radial_count = n_max;
    const int first = first_channel(s), last = last_channel(s);
    const double inv_r = 1.0 / t[3];
    const double u[3] = {t[0] * inv_r, t[1] * inv_r, t[2] * inv_r};
    // The pair's K harmonics (K known to the compiler, so the sums stay in registers).
    const auto add = [&](const SphericalHarmonics::Pair& pair, auto harmonics_in_pair) {
      constexpr int K = decltype(harmonics_in_pair)::value;
      double angular[K] = {}, along[K] = {};
      for (int c = first; c < last; ++c) {
        const double weight = channel_weight(s, c);
        if (weight == 0.0) continue;
        const double* w = dE_dA + c * radial_count * count;
        for (int n = 0; n < radial_count; ++n) {
          const double radial_n = weight * radial[n], slope_n = weight * slope[n];
          for (int k = 0; k < K; ++k) {
            const double wk = w[n * count + pair.lm[k]];
            angular[k] += radial_n * wk;
            along[k] += slope_n * wk;
          }
        }
      }
      for (int k = 0; k < K; ++k) {
        radial_part += along[k] * pair.value[k];
        for (int c = 0; c < 3; ++c) tangential[c] += angular[k] * pair.gradient[k][c];
      }
    };
    harmonics.visit_unit<true>(u, [&](const SphericalHarmonics::Pair& pair) {
      if (pair.count == 1)
        add(pair, std::integral_constant<int, 1>());
      else
        add(pair, std::integral_constant<int, 2>());
    });
  }

  // The full ∂d/∂r_ij (3 × D) for the training path: out(c, e) for c = x, y, z.
  // Only channels p of the blocks the neighbour feeds have ∂A_p/∂r_ij ≠ 0.
  template <class Out>
  KOKKOS_INLINE_FUNCTION void pair_gradient(const double* t, const double* A,
                                            const Out& out) const {
    for (int c = 0; c < 3; ++c)
      for (int e = 0; e < size; ++e) out(c, e) = 0.0;
    const double inv_r = 1.0 / t[3];
    const double u[3] = {t[0] * inv_r, t[1] * inv_r, t[2] * inv_r};
    const double* radial = term_radial(t);
    const double* slope = term_slope(t);
    const double* harmonic = term_harmonic(t);
    double harmonic_gradient[3 * max_harmonics];
    for (int k = 0; k < 3 * n_harmonics; ++k) harmonic_gradient[k] = term_polynomial_gradient(t)[k];
    for (int lm = 0; lm < n_harmonics; ++lm)
      SphericalHarmonics::project(u, inv_r, harmonic_gradient + 3 * lm);
    const int s = term_species(t);
    for (int block = first_channel(s); block < last_channel(s); ++block)
      for (int n = 0; n < n_max; ++n) {
        const double weight = channel_weight(s, block);
        if (weight == 0.0) continue;
        const int p = block * n_max + n;
        double dA[3][max_harmonics];
        for (int lm = 0; lm < n_harmonics; ++lm)
          for (int c = 0; c < 3; ++c)
            dA[c][lm] = weight * (slope[n] * u[c] * harmonic[lm] +
                                  radial[n] * harmonic_gradient[3 * lm + c]);
        if (size > power_size)
          for (int c = 0; c < 3; ++c) out(c, power_size + p) += dA[c][0];
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
