#pragma once
// Pieces shared by the many-body potentials of LAMMPS triplet files
// (Stillinger–Weber, Tersoff): the per-thread scratch rows that hold a
// centre's legs in the loop's rows form, and the table of triplet parameters
// on the device. Their kernel loop is many_body_loop.hpp (with its other
// form, per-atom short lists); the force scatter and the readiness check are
// otfgp/potentials/many_body.hpp (the GP uses them too).

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "lammps_parameter_file.hpp"
#include "otfgp/core/device_copy.hpp"
#include "otfgp/core/elements.hpp"
#include "otfgp/core/grown_view.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/types.hpp"
#include "otfgp/potentials/many_body.hpp"

namespace otfgp {

// Scratch rows of a plain struct, one per thread that can run at once (one on
// Serial, a few on OpenMP, one per resident thread on a GPU) but never more
// than the kernel has items: a GPU holds about 2×10⁵ threads at once, and a
// run of a few hundred atoms would otherwise keep that many rows (gigabytes
// for Tersoff legs of a long list). The scratch stays small and hot whatever
// the number of atoms. A kernel takes a row with token().acquire() and gives it
// back with token().release(row).
template <class Row>
class ScratchRows {
 public:
  using View = Kokkos::View<Row**, MemSpace>;
  using Token = Kokkos::Experimental::UniqueToken<ExecSpace,
                                                  Kokkos::Experimental::UniqueTokenScope::Instance>;

  // Makes rows for a kernel over `items` items, each row at least `slots`
  // long; call on the host before the kernel. Rows and slots only grow, so a
  // run whose systems change size allocates only when one outgrows them.
  void reserve(int items, int slots) {
    const int rows = std::max(1, std::min(items, static_cast<int>(ExecSpace().concurrency())));
    if (!token_ || static_cast<int>(token_->size()) < rows) token_.emplace(rows);
    view_ = grown(view_, "ScratchRows", static_cast<int>(token_->size()), slots);
  }
  const View& view() const { return view_; }
  const Token& token() const { return *token_; }

 private:
  std::optional<Token> token_;  // made on first use: a GPU token needs Kokkos initialised
  View view_;
};

// v^n for a small non-negative integer n without pow().
KOKKOS_INLINE_FUNCTION double integer_power(double v, int n) {
  double result = 1.0;
  while (n > 0) {
    if (n & 1) result *= v;
    v *= v;
    n >>= 1;
  }
  return result;
}

// The parameters of every (i, j, k) triplet of the bound types, as a kernel
// reads them. Copied into kernels; a many-body body derives from it.
template <class Triplet>
struct TripletParams {
  Kokkos::View<const Triplet*, MemSpace> table;  // (ti·n + tj)·n + tk
  Kokkos::View<const double*, MemSpace> reach;   // per centre type: r² (Å²) beyond
                                                 // which no term of it involves a neighbour
  int n = -1;                                    // number of types; −1 before bind()

  KOKKOS_INLINE_FUNCTION const Triplet& triplet(int ti, int tj, int tk) const {
    return table((ti * n + tj) * n + tk);
  }
  KOKKOS_INLINE_FUNCTION double reach_sq(int ti) const { return reach(ti); }
};

// derive(entry) for every triplet of `species` (atomic numbers), flattened as
// TripletParameterFile::triplet_table.
template <class Triplet, class Derive>
std::vector<Triplet> derive_triplets(const TripletParameterFile& file,
                                     const std::vector<int>& species, Derive derive) {
  std::vector<Triplet> triplets;
  for (int index : file.triplet_table(species)) triplets.push_back(derive(file.entries()[index]));
  return triplets;
}

// The device table of `triplets` with each centre type's reach² (one per type).
template <class Triplet>
TripletParams<Triplet> triplet_params(const std::string& label,
                                      const std::vector<Triplet>& triplets,
                                      const std::vector<double>& reach_sq) {
  TripletParams<Triplet> params;
  params.table = to_device(label + "::params", triplets);
  params.reach = to_device(label + "::reach_sq", reach_sq);
  params.n = static_cast<int>(reach_sq.size());
  return params;
}

// Warns for each pair of species a, b whose two-body entries (a,b,b) and
// (b,a,a) differ (differ(ab, ba)): otfgp gives each atom half of its own
// entry's term, LAMMPS one entry or the other by atom IDs. `what` names the
// parameters compared ("two-body").
template <class Triplet, class Differ>
void warn_if_asymmetric(const std::string& owner, const std::string& what,
                        const TripletParameterFile& file, const std::vector<int>& species,
                        const std::vector<Triplet>& triplets, Differ differ) {
  const std::size_t n = species.size();
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = a + 1; b < n; ++b)
      if (differ(triplets[(a * n + b) * n + b], triplets[(b * n + a) * n + a]))
        warn_once(fmt::format(
            "{}: {} gives different {} parameters for {}-{} and {}-{}; otfgp averages them, "
            "LAMMPS uses one or the other depending on atom IDs",
            owner, file.path().string(), what, element(species[a]).symbol,
            element(species[b]).symbol, element(species[b]).symbol, element(species[a]).symbol));
}

}  // namespace otfgp
