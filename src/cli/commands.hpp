#pragma once
// Each verb adds its subcommand and options to the app and its action to the
// list; main runs the action of the subcommand that was chosen, after parsing
// and inside the Kokkos scope.

#include <CLI/CLI.hpp>
#include <functional>
#include <utility>
#include <vector>

namespace otfgp::cli {

using Commands = std::vector<std::pair<CLI::App*, std::function<void()>>>;

// One per verb file in src/cli/.
void add_eval_command(CLI::App& app, Commands& commands);
void add_hull_command(CLI::App& app, Commands& commands);
void add_label_command(CLI::App& app, Commands& commands);
void add_relax_command(CLI::App& app, Commands& commands);
void add_md_command(CLI::App& app, Commands& commands);
void add_train_command(CLI::App& app, Commands& commands);
void add_otf_command(CLI::App& app, Commands& commands);
void add_search_command(CLI::App& app, Commands& commands);

}  // namespace otfgp::cli
