#pragma once
// B2, the SOAP-like power spectrum (DESIGN.md §6): for atom i and neighbours j
// of species s within the pair cutoff, A_{s n l m} = Σ_j g_n(r_ij) Y_lm(r̂_ij) f_c(r_ij)
// with Chebyshev radial functions g_n on [r_min, r_cut], real spherical
// harmonics and a smooth cutoff; B2 = Σ_m A_{s n l m} A_{s' n' l m} for
// (s n) ≤ (s' n') and l ≤ l_max. One implementation (Kokkos kernels) serves
// training on the host and MD on any device.
//
// Species embedding (optional): instead of one block of radial channels per
// species, K channels c = 0 … K−1 that every neighbour feeds with a weight of
// its species, A_{c n l m} = Σ_j W_{c s_j} g_n(r_ij) Y_lm(r̂_ij) f_c(r_ij), so
// D = (K·n_max)(K·n_max + 1)/2 · (l_max + 1) grows with K, not with the number
// of species. W = identity (K = number of species) is the species-resolved B2.
// The central atom's species still selects its pair cutoffs and, in the GP,
// its own sparse set and β.
//
// Two-body block (optional, `two_body`): the l = 0 densities
// A_{p,00} = Y_00 Σ_j W_{c s_j} g_n(r_ij) f_c(r_ij), one per radial channel p,
// appended after the power spectrum. A kernel linear in them (kernel.hpp)
// learns a pair potential Σ_j φ_{s_i c}(r_ij) of the neighbours' distances.

#include <Eigen/Core>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "otfgp/gp/descriptor.hpp"

namespace otfgp {

struct B2Settings {
  std::vector<int> species;  // atomic numbers, ascending
  int n_max = 8;             // radial functions n = 0 … n_max − 1
  int l_max = 3;
  double r_min = 0.0;   // Å, start of the radial basis
  double cutoff = 5.0;  // Å, every species pair unless overridden
  // Per species-pair cutoff keyed by (Z_a, Z_b) with Z_a ≤ Z_b; kept at full precision everywhere.
  std::map<std::pair<int, int>, double> pair_cutoffs;
  // Species embedding W (K channels × N species, columns in `species` order);
  // empty: species-resolved channels (W = identity, the default).
  Eigen::MatrixXd embedding;
  // Append the l = 0 densities (channels()·n_max numbers) after the power spectrum.
  bool two_body = false;

  double pair_cutoff(int z_a, int z_b) const;
  double max_cutoff() const;
  bool embedded() const { return embedding.size() > 0; }
  // Radial channel blocks K: rows of the embedding, else the number of species N.
  int channels() const;
  // The power spectrum's (K·n_max)(K·n_max + 1)/2 · (l_max + 1) numbers.
  int power_spectrum_size() const;
  // The two-body block's K·n_max numbers, or 0 without it.
  int two_body_size() const;
  // power_spectrum_size() + two_body_size().
  int descriptor_size() const;
  // Throws otfgp::Error for empty species, n_max < 1, l_max < 0, r_min ≥ cutoff,
  // an embedding whose columns are not the species or with non-finite weights, …
  void validate() const;
  // The same checks, each failure handed to `fail` with the member it is of
  // ("n_max", "cutoff", "pair_cutoffs", "embedding", "species") and what is
  // wrong, for a config reader to name the key and line (`fail` must throw).
  void validate(
      const std::function<void(const std::string& field, const std::string& message)>& fail) const;
};

// Species embeddings from element properties (docs/gp.md, "Species embedding"),
// for `species` (atomic numbers, ascending) and K = `channels`:
//   "elements": row 0 all ones (the total neighbour density); rows 1, 2, … the
//     Pauling electronegativity, covalent radius, group and period of the
//     species, each standardised over the species (mean 0, std 1; a property
//     that does not vary is skipped), then made orthogonal to the rows before
//     it (Gram–Schmidt) and scaled to the norm of row 0 times `contrast`.
//   "resolved": the identity (K must equal the number of species).
// Throws otfgp::Error when K exceeds the independent rows available (N).
Eigen::MatrixXd species_embedding(const std::string& kind, const std::vector<int>& species,
                                  int channels, double contrast = 1.0);

class B2Descriptor final : public Descriptor {
 public:
  explicit B2Descriptor(B2Settings settings);
  const B2Settings& settings() const { return settings_; }
  int size() const override;
  double cutoff() const override;
  double pair_cutoff(int a, int b) const override;
  const std::vector<int>& species() const override { return settings_.species; }
  int two_body_size() const override { return settings_.two_body_size(); }
  DescriptorValues compute(const AtomState& state, const NeighborList& list,
                           bool gradients) const override;
  Eigen::MatrixXd pull_back(const AtomState& state, const NeighborList& list,
                            const std::vector<int>& atoms,
                            const Eigen::MatrixXd& adjoints) const override;

 private:
  B2Settings settings_;
};

}  // namespace otfgp
