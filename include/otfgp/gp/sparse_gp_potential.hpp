#pragma once
// The sparse GP evaluated directly on the host: descriptors with gradients,
// then Σ_m k(d_i, u_m) α_m and its derivatives for every atom, with the exact
// DTC uncertainty. Any kernel works; the cost per atom grows with M. This is
// the reference the fast mapped potential (gp_potential.hpp) is checked and
// timed against, and the path for kernels without a quadratic map.

#include <filesystem>
#include <memory>
#include <string>

#include "otfgp/gp/sparse_gp.hpp"
#include "otfgp/potentials/potential.hpp"

namespace otfgp {

// `spec` is what spec() returns (e.g. "gp:model.h5,mapped=no"); novelty_margin
// and repulsion as MappedGp's; model_file: the file the model was read from
// (parameter_files; empty for a model made in memory).
std::unique_ptr<Potential> make_sparse_gp_potential(std::shared_ptr<const SparseGp> gp,
                                                    std::string spec, double novelty_margin = 0.05,
                                                    bool repulsion = true,
                                                    std::filesystem::path model_file = {});

}  // namespace otfgp
