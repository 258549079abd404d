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
        throw Error("the output " + describe(output) + " is the same file as the " +
                    describe(input) +
                    ": writing it would destroy that input; choose another "
                    "output name");
    for (std::size_t other = 0; other < k; ++other)
      if (!outputs[other].path.empty() && same_file(output.path, outputs[other].path))
        throw Error("the outputs " + describe(outputs[other]) + " and " + describe(output) +
                    " are the same file: one would overwrite the other; choose distinct names");
  }
}

void check_inputs_outside_folder(const std::vector<NamedPath>& inputs, const NamedPath& folder) {
  if (folder.path.empty()) return;
  std::error_code error;
  auto resolved = [&](const std::filesystem::path& path) {
    std::string text =
        std::filesystem::weakly_canonical(std::filesystem::absolute(path), error).string();
    while (text.size() > 1 && text.back() == '/') text.pop_back();
    return text;
  };
  // Whether `inner` is `outer` or lies below it.
  auto within = [](const std::string& inner, const std::string& outer) {
    return inner == outer ||
           (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
            (outer == "/" || inner[outer.size()] == '/'));
  };
  const std::string target = resolved(folder.path);
  if (error) return;
  for (const NamedPath& input : inputs) {
    if (input.path.empty()) continue;
    const std::string source = resolved(input.path);
    if (error) continue;
    if (within(source, target))
      throw Error("the input " + describe(input) + " lies in the output folder " +
                  describe(folder) +
                  ", whose contents this run replaces; move the input or choose another output");
    if (within(target, source))
      throw Error("the output folder " + describe(folder) + " lies in the input " +
                  describe(input) + "; choose an output outside it");
  }
}

std::string listed_names(const std::vector<std::string>& names) {
  constexpr std::size_t shown = 12;
  std::string text;
  for (std::size_t k = 0; k < names.size() && k < shown; ++k)
    text += (k > 0 ? ", " : "") + names[k];
  if (names.size() > shown) text += " and " + std::to_string(names.size() - shown) + " more";
  return text;
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
