#include "otfgp/core/output_paths.hpp"

#include <system_error>

#include "otfgp/core/error.hpp"

namespace otfgp {

namespace {

// The same file whatever the spelling: symbolic links and `..` resolved,
// hard links compared by identity when both exist.
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code error;
  if (std::filesystem::exists(a, error) && std::filesystem::exists(b, error)) {
    const bool same = std::filesystem::equivalent(a, b, error);
    if (!error) return same;
  }
  const auto canonical_a = std::filesystem::weakly_canonical(std::filesystem::absolute(a), error);
  if (error) return false;
  const auto canonical_b = std::filesystem::weakly_canonical(std::filesystem::absolute(b), error);
  if (error) return false;
  return canonical_a == canonical_b;
}

std::string describe(const NamedPath& named) {
  return named.role + " ('" + named.path.string() + "')";
}

}  // namespace

void check_output_paths(const std::vector<NamedPath>& inputs,
                        const std::vector<NamedPath>& outputs) {
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const NamedPath& output = outputs[k];
    if (output.path.empty()) continue;
    for (const NamedPath& input : inputs)
      if (!input.path.empty() && same_file(output.path, input.path))
        throw Error("the output " + describe(output) + " is the input " + describe(input) +
                    ": writing it would destroy the input; choose another output name");
    for (std::size_t other = 0; other < k; ++other)
      if (!outputs[other].path.empty() && same_file(output.path, outputs[other].path))
        throw Error("the outputs " + describe(outputs[other]) + " and " + describe(output) +
                    " are the same file: one would overwrite the other; choose distinct names");
  }
}

std::filesystem::path potential_spec_file(const std::string& spec) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) return {};
  const std::string argument = spec.substr(colon + 1, spec.find(',', colon) - colon - 1);
  std::error_code error;
  if (argument.empty() || !std::filesystem::is_regular_file(argument, error)) return {};
  return argument;
}

}  // namespace otfgp
