// otfgp-lammps: runs a LAMMPS input script with an otfgp potential driving one
// `fix ID all external pf/callback 1 1` (docs/lammps.md). Our options are
// taken out of the command line; everything else goes to LAMMPS unchanged.

#include <mpi.h>

#include <unistd.h>
#include <Kokkos_Core.hpp>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bridge.hpp"
#define LAMMPS_LIB_MPI  // declares lammps_open with an MPI communicator
#include "library.h"
#include "otfgp/core/error.hpp"
#include "otfgp/core/version.hpp"

namespace {

using otfgp::Error;
using otfgp::lammps::Bridge;
using otfgp::lammps::BridgeSettings;

constexpr const char* usage =
    R"(usage: otfgp-lammps -in IN.lmp --potential SPEC --fix ID --types EL1 [EL2 …]
                    [--std-every N] [--std-property NAME] [--report FILE.json]
                    [--all-ghost-sites]
                    [LAMMPS options: -var NAME VALUE…, -log FILE, -screen FILE, -echo …]

Runs the LAMMPS input IN.lmp with the otfgp potential SPEC (gp:model.h5,
sw:Si.sw, tersoff:SiC.tersoff, eam:Cu_u3.eam, buck:BaRhO.buck, …) as the force
of `fix ID all external pf/callback 1 1`. --types gives the element of LAMMPS
atom types 1, 2, … . --std-every N stores the GP's per-atom uncertainty every N
steps in the per-atom property d_otfgp_std (`fix s all property/atom d_otfgp_std`).
--report writes per-rank timings and memory as JSON. --all-ghost-sites computes
site energies of all ghosts, not only those near owned atoms (for measurement). Under MPI: mpirun -np N
otfgp-lammps … . See docs/lammps.md.
)";

struct Options {
  std::string input;
  BridgeSettings settings;
  std::string report;
  std::vector<std::string> lammps_arguments;
  bool help = false;
};

// A word that starts with a dash and is not a negative number.
bool is_option(const std::string& word) {
  return word.size() > 1 && word[0] == '-' && !std::isdigit(static_cast<unsigned char>(word[1]));
}

Options parse(int argc, char** argv) {
  Options options;
  auto value = [&](int& k, const std::string& name) -> std::string {
    if (k + 1 >= argc || is_option(argv[k + 1])) throw Error(name + " needs a value");
    return argv[++k];
  };
  for (int k = 1; k < argc; ++k) {
    const std::string word = argv[k];
    if (word == "-h" || word == "--help") {
      options.help = true;
    } else if (word == "-in" || word == "-i") {
      options.input = value(k, word);
    } else if (word == "--potential") {  // not -p: LAMMPS's -partition keeps it
      options.settings.potential_spec = value(k, word);
    } else if (word == "--fix") {
      options.settings.fix_id = value(k, word);
    } else if (word == "--types") {
      while (k + 1 < argc && !is_option(argv[k + 1]))
        options.settings.type_symbols.push_back(argv[++k]);
      if (options.settings.type_symbols.empty())
        throw Error("--types needs one element per atom type");
    } else if (word == "--std-every") {
      const std::string text = value(k, word);
      try {
        std::size_t used = 0;
        options.settings.std_every = std::stol(text, &used);
        if (used != text.size() || options.settings.std_every < 0)
          throw std::invalid_argument(text);
      } catch (const std::exception&) {
        throw Error("--std-every: '" + text + "' is not a whole number of steps (0 or more)");
      }
    } else if (word == "--std-property") {
      std::string name = value(k, word);
      if (name.rfind("d_", 0) == 0) name = name.substr(2);
      options.settings.std_property = name;
    } else if (word == "--all-ghost-sites") {
      options.settings.all_ghost_sites = true;
    } else if (word == "--report") {
      options.report = value(k, word);
    } else if (word.rfind("--", 0) == 0) {
      throw Error("unknown option " + word + " (LAMMPS's own options take one dash)");
    } else {
      options.lammps_arguments.push_back(word);
    }
  }
  if (options.help) return options;
  if (options.input.empty()) throw Error("-in IN.lmp is required (the LAMMPS input script)");
  if (options.settings.potential_spec.empty()) throw Error("--potential SPEC is required");
  if (options.settings.fix_id.empty()) throw Error("--fix ID is required (the fix external's ID)");
  if (options.settings.type_symbols.empty()) throw Error("--types is required");
  std::ifstream probe(options.input);
  if (!probe) throw Error("cannot read the input script '" + options.input + "'");
  return options;
}

// Peak resident memory of this process (MiB), from /proc.
double peak_memory_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

void write_report(const Options& options, const Bridge& bridge, MPI_Comm world, int rank,
                  int ranks) {
  const auto& t = bridge.timings();
  constexpr int fields = 11;
  const double mine[fields] = {t.total_s,
                               t.copy_s,
                               t.neighbor_s,
                               t.compute_s,
                               t.reduce_s,
                               double(t.calls),
                               double(t.neighbor_builds),
                               t.owned_atom_calls,
                               t.cluster_atom_calls,
                               t.centre_atom_calls,
                               peak_memory_mib()};
  std::vector<double> all(std::size_t(ranks) * fields);
  MPI_Gather(mine, fields, MPI_DOUBLE, all.data(), fields, MPI_DOUBLE, 0, world);
  if (rank != 0) return;
  nlohmann::json report;
  report["potential"] = bridge.potential().spec();
  report["potential_cutoff_A"] = bridge.potential_cutoff();
  report["ranks"] = ranks;
  report["input"] = options.input;
  const char* keys[fields] = {"callback_s",        "copy_and_list_s",  "neighbor_s",
                              "compute_s",         "reduce_s",         "calls",
                              "neighbor_builds",   "owned_atom_calls", "cluster_atom_calls",
                              "centre_atom_calls", "peak_memory_mib"};
  for (int r = 0; r < ranks; ++r) {
    nlohmann::json entry;
    for (int k = 0; k < fields; ++k) entry[keys[k]] = all[std::size_t(r) * fields + k];
    report["per_rank"].push_back(entry);
  }
  const std::string temporary = options.report + ".tmp";
  {
    std::ofstream out(temporary);
    out << report.dump(2) << '\n';
    if (!out) throw Error("cannot write report '" + temporary + "': " + std::strerror(errno));
  }
  if (std::rename(temporary.c_str(), options.report.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary.c_str());
    throw Error("cannot write report '" + options.report + "': " + reason);
  }
}

// Why the report cannot be written to `path`, or "" when it can: checked
// before the simulation, so that a bad path fails in seconds, not after the run.
std::string report_path_problem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error))
    return "--report " + path + ": is a directory (give a file name, e.g. " +
           (fs::path(path) / "report.json").string() + ")";
  const fs::path parent = fs::path(path).parent_path();
  const std::string directory = parent.empty() ? "." : parent.string();
  if (!fs::is_directory(directory, error))
    return "--report " + path + ": directory '" + directory + "' does not exist";
  if (access(directory.c_str(), W_OK | X_OK) != 0)
    return "--report " + path + ": directory '" + directory + "': " + std::strerror(errno);
  if (fs::exists(path, error) && access(path.c_str(), W_OK) != 0)
    return "--report " + path + ": " + std::strerror(errno);
  return "";
}

int run(int argc, char** argv, int rank, int ranks) {
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const Error& error) {
    if (rank == 0) std::cerr << "otfgp-lammps: error: " << error.what() << "\n" << usage;
    return 2;
  }
  if (options.help) {
    if (rank == 0) std::cout << usage;
    return 0;
  }
  if (!options.report.empty()) {
    // Rank 0 writes the report: its verdict holds for every rank.
    const std::string problem = rank == 0 ? report_path_problem(options.report) : "";
    int bad = !problem.empty();
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (bad) {
      if (rank == 0) std::cerr << "otfgp-lammps: error: " << problem << "\n";
      return 2;
    }
  }
  Kokkos::ScopeGuard kokkos;
  try {
    Bridge bridge(options.settings);
    std::vector<std::string> words = {"otfgp-lammps"};
    words.insert(words.end(), options.lammps_arguments.begin(), options.lammps_arguments.end());
    std::vector<char*> lammps_argv;
    for (auto& word : words) lammps_argv.push_back(word.data());
    lammps_argv.push_back(nullptr);
    void* handle =
        lammps_open(static_cast<int>(words.size()), lammps_argv.data(), MPI_COMM_WORLD, nullptr);
    if (!handle) throw Error("LAMMPS did not start");
    bridge.install(handle);
    // Errors in the script end the job inside LAMMPS (its build has no
    // exceptions), with LAMMPS's own message; ours come through error->all.
    lammps_file(handle, options.input.c_str());
    bridge.check_calls();
    if (!options.report.empty()) write_report(options, bridge, MPI_COMM_WORLD, rank, ranks);
    lammps_close(handle);
  } catch (const std::exception& error) {
    // Raised before LAMMPS ran anything (bad --types, potential, model): the
    // same on every rank.
    if (rank == 0) std::cerr << "otfgp-lammps: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const int status = run(argc, argv, rank, ranks);
  MPI_Finalize();
  return status;
}
