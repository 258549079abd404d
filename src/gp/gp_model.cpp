// gp:MODEL.h5[,mapped=yes|no][,novelty_margin=0.05][,variance_rank=R][,repulsion=zbl|none] — a
// trained sparse GP from its model file (gp/model_file.hpp). variance_rank: terms of the mapped
// per-atom variance (0: exact; default MappedGp::default_variance_rank). mapped=yes (the default
// for power-2 kernels) runs the fast mapped potential (gp_potential.hpp) whose cost per atom does
// not depend on the number of sparse environments; mapped=no evaluates the sparse GP directly (any
// kernel, exact DTC uncertainty, cost per atom O(M)), which is the reference the mapped form is
// checked and timed against. repulsion=zbl (the default) adds ZBL repulsion to pairs closer than
// the training data (gp/novelty_repulsion.hpp); none leaves the bare GP.

#include <cmath>

#include "otfgp/core/error.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/spec_arguments.hpp"
#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/sparse_gp_potential.hpp"

namespace otfgp {

std::unique_ptr<Potential> make_gp_model(const std::string& given,
                                         const std::filesystem::path& config_dir) {
  // The model path comes first; options follow after a comma.
  const auto comma = given.find(',');
  const std::string name = given.substr(0, comma);
  const std::string rest = comma == std::string::npos ? "" : given.substr(comma + 1);
  if (name.empty())
    throw Error(
        "gp: expected gp:MODEL.h5[,mapped=yes|no][,novelty_margin=F][,variance_rank=R]"
        "[,repulsion=zbl|none]");
  const std::string path =
      file_beside_config(name, config_dir).value_or(std::filesystem::path(name)).string();
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) {
    // A bare name is looked for beside the config, then in the working directory.
    const std::string at = std::filesystem::absolute(path).lexically_normal().string();
    const std::string beside =
        std::filesystem::absolute(config_dir / name).lexically_normal().string();
    throw MissingFileError("gp: cannot find the model file '" + name + "': looked at " +
                           (beside == at ? at : beside + " (the config's folder), " + at));
  }
  const std::string arguments = path + (comma == std::string::npos ? "" : "," + rest);
  SpecArguments options("gp", rest);
  const GpModelKernel kernel = gp_model_kernel(path);
  const bool mappable = kernel.mappable();
  const bool mapped = options.flag("mapped", mappable);
  const double margin = options.number("novelty_margin", 0.05);
  if (!(margin >= 0.0 && margin < 1.0))
    throw Error("gp: novelty_margin must lie in [0, 1), got " + std::to_string(margin));
  const bool rank_given = options.has("variance_rank");
  const double rank = options.number("variance_rank", MappedGp::default_variance_rank);
  if (!(rank >= 0 && rank == std::floor(rank) && rank < 1e9))
    throw Error("gp: variance_rank must be a whole number ≥ 0 (0: exact), got " +
                std::to_string(rank));
  if (!mapped && rank_given)
    throw Error("gp: variance_rank applies to the mapped form only (mapped=no is always exact)");
  const std::string repulsion = options.text("repulsion", "zbl");
  if (repulsion != "zbl" && repulsion != "none")
    throw Error("gp: repulsion must be zbl or none, got '" + repulsion + "'");
  options.finish();
  const std::string spec = "gp:" + arguments;
  if (mapped) {
    if (!mappable)
      throw Error("gp: " + path + " holds no mapped form (kernel " + kernel.description() +
                  (kernel.mapped_form ? ", which has none" : "; the file has no /mapped group") +
                  "); use gp:" + path + ",mapped=no");
    MappedGp model = load_mapped_gp(path);
    model.novelty_margin = margin;
    model.variance_rank = static_cast<int>(rank);
    model.repulsion = repulsion == "zbl";
    return make_gp_potential(std::move(model), spec, path);
  }
  if (mappable)
    logger().info("gp: evaluating {} without the mapped form (cost grows with the sparse set)",
                  path);
  return make_sparse_gp_potential(std::make_shared<const SparseGp>(load_gp_model(path)), spec,
                                  margin, repulsion == "zbl", path);
}

}  // namespace otfgp
