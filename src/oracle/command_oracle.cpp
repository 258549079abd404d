#include "otfgp/oracle/command_oracle.hpp"

#include <fmt/format.h>

#include <cmath>

#include "otfgp/core/extxyz.hpp"
#include "otfgp/oracle/external.hpp"

namespace otfgp::oracle {

namespace {

struct CommandSettings {
  ExternalCommand command;
  bool placeholders = false;  // {input}/{output} in the command; else both appended
  std::string input_file = "input.xyz";
  std::string output_file = "output.xyz";
  bool require_stress = true;  // for structures periodic in all three directions
};

class CommandOracle final : public Oracle {
 public:
  explicit CommandOracle(CommandSettings settings) : settings_(std::move(settings)) {}

  std::string kind() const override { return "command"; }

  void check(const std::vector<int>& /*species*/) const override {
    check_external_command(settings_.command);
  }

  Structure label(const Structure& structure, const std::filesystem::path& workdir,
                  int attempt) override {
    structure.validate();
    prepare_workdir(workdir);
    // Only what defines the frame goes out: no stale labels for the program to echo back.
    Structure frame;
    frame.cell = structure.cell;
    frame.positions = structure.positions;
    frame.numbers = structure.numbers;
    frame.pbc = structure.pbc;
    const auto output_path = workdir / settings_.output_file;
    std::filesystem::remove(output_path);
    write_extxyz(workdir / settings_.input_file, frame);

    ExternalCommand command = settings_.command;
    command.environment["OTFGP_ORACLE_ATTEMPT"] = std::to_string(attempt);
    std::vector<std::string> arguments;
    if (settings_.placeholders) {
      for (auto& word : command.words)
        word = replace_all(replace_all(word, "{input}", settings_.input_file), "{output}",
                           settings_.output_file);
    } else {
      arguments = {settings_.input_file, settings_.output_file};
    }
    const std::string program = std::filesystem::path(command.words.front()).filename().string();
    run_external(command, arguments, workdir, "stdout.txt", program);

    if (!std::filesystem::exists(output_path))
      unparsable(output_path, program + " wrote no output frame");
    std::vector<Structure> frames;
    try {
      frames = read_extxyz(output_path);
    } catch (const Error& error) {
      unparsable(output_path, error.what());
    }
    if (frames.size() != 1)
      unparsable(output_path, fmt::format("expected one frame, found {}", frames.size()));
    const Structure& result = frames.front();
    if (result.numbers != structure.numbers)
      unparsable(output_path, "atoms differ from the input frame (count, order or species)");
    if (result.pbc != structure.pbc)
      unparsable(output_path, "periodicity (pbc) differs from the input frame's");
    // Labels of another cell are another structure's; along a direction that
    // is not periodic the vectors (vacuum) are the code's business.
    for (int d = 0; d < 3; ++d)
      if (structure.pbc[d] &&
          (result.cell.row(d) - structure.cell.row(d)).cwiseAbs().maxCoeff() > 1e-4)
        unparsable(output_path, fmt::format("lattice vector {} differs from the input frame's by "
                                            "more than 1e-4 Å (another cell, or another unit?)",
                                            "abc"[d]));
    // A code may wrap the atoms into the cell: the labels belong to the same
    // periodic frame.
    if (structure.largest_displacement(result) > 1e-4)
      unparsable(output_path,
                 "positions differ from the input frame by more than 1e-4 Å, lattice vectors "
                 "aside (atoms reordered or moved?)");
    if (!result.energy) unparsable(output_path, "no energy in the comment line");
    if (!result.forces) unparsable(output_path, "no forces column");
    const bool periodic = structure.pbc[0] && structure.pbc[1] && structure.pbc[2];
    if (settings_.require_stress && periodic && !result.stress)
      unparsable(output_path, "no stress (set `stress: false` for a code that has none)");
    if (!std::isfinite(*result.energy) || !result.forces->allFinite() ||
        (result.stress && !result.stress->allFinite()))
      unparsable(output_path, "non-finite energy, forces or stress");
    Structure labelled = structure;
    labelled.energy = result.energy;
    labelled.forces = result.forces;
    labelled.stress = result.stress;
    return labelled;
  }

 private:
  CommandSettings settings_;
};

}  // namespace

std::unique_ptr<Oracle> make_command_oracle(const ConfigSection& given,
                                            const std::filesystem::path& base_dir) {
  ConfigSection section = given;
  section.expect_keys(
      {"kind", "command", "timeout", "environment", "input_file", "output_file", "stress"});
  if (!section.has("command")) section.fail("command", "required: the program to run");
  CommandSettings settings;
  settings.command = read_external_command(section, base_dir, "");
  for (const auto& word : settings.command.words)
    if (word.find("{input}") != std::string::npos || word.find("{output}") != std::string::npos)
      settings.placeholders = true;
  settings.input_file = section.text("input_file", settings.input_file);
  settings.output_file = section.text("output_file", settings.output_file);
  for (const auto& [key, name] : {std::pair{"input_file", settings.input_file},
                                  std::pair{"output_file", settings.output_file}})
    if (name.empty() || name.find('/') != std::string::npos)
      section.fail(key, "a plain file name (it is written in the oracle's working directory)");
  if (settings.input_file == settings.output_file)
    section.fail("output_file", "must differ from input_file");
  settings.require_stress = section.flag("stress", true);
  section.finish();
  return std::make_unique<CommandOracle>(std::move(settings));
}

}  // namespace otfgp::oracle
