#pragma once
// Each verb adds its subcommand and options to the app and its action to the
// list; main runs the action of the subcommand that was chosen, after parsing
// and inside the Kokkos scope.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "otfgp/core/error.hpp"
#include "otfgp/core/io.hpp"

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

// The frames-in, frames-out options of eval and label: the input structure
// file, -o/--output (extended XYZ) and --format.
inline void add_frame_file_options(CLI::App* command, std::string& input, std::string& output,
                                   std::string& format) {
  command->add_option("input", input, "Structure file: extended XYZ or POSCAR")
      ->required()
      ->check(CLI::ExistingFile);
  // The labels and per-atom columns need extended XYZ, and a name that reads
  // back as a POSCAR (or as nothing) would lose them: refused before any work.
  const CLI::Validator extxyz_name(
      [](std::string& name) -> std::string {
        try {
          if (structure_format(name) == StructureFormat::extxyz) return {};
        } catch (const Error&) {  // a name that tells no format: the message below
        }
        return "'" + name +
               "': the output is extended XYZ (labels and per-atom columns, which a POSCAR "
               "cannot hold); name it *.xyz or *.extxyz";
      },
      "FILE.xyz");
  command->add_option("-o,--output", output, "Output extended XYZ file (*.xyz, *.extxyz)")
      ->required()
      ->check(extxyz_name);
  command->add_option("--format", format, "Input format: auto, extxyz, poscar")
      ->capture_default_str();
}

}  // namespace otfgp::cli
