// Bounded fuzzing of every reader (issue 8): seeded random truncations, byte
// flips, huge/NaN/inf numbers and wrong counts applied to a valid input. Every
// case must end in an otfgp::Error with a message, or in a result that is
// consistent and finite; never another exception, a crash or a hang.
//
// CI runs a fixed seed and a few hundred cases per reader (well under a minute
// in all). For a long local run:
//   OTFGP_FUZZ_CASES=10000 OTFGP_FUZZ_SEED=12345 build/tests/test_fuzz
// (cases per reader; the seed changes which mutations are drawn).

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <typeinfo>

#include "otfgp/analysis/phase_table.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/poscar.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/gp/train_config.hpp"
#include "otfgp/md/restart.hpp"
#include "otfgp/md/run.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using otfgp::testing::read_text;
using otfgp::testing::write_text;
using namespace otfgp::testing;

namespace {

long environment_number(const char* name, long fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::strtol(text, nullptr, 10) : fallback;
}

// Warnings from accepted-but-odd inputs (EAM densities beyond the table) would
// flood the log; only errors are shown.
void quiet_log() {
  logger().set_level(spdlog::level::err);
}

long fuzz_cases(long ci_default) {
  return environment_number("OTFGP_FUZZ_CASES", ci_default);
}
std::uint64_t fuzz_seed() {
  return static_cast<std::uint64_t>(environment_number("OTFGP_FUZZ_SEED", 8));
}

// Random damage of the kinds real files suffer and hostile users try.
class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : random_(seed) {}

  std::string operator()(std::string text) {
    const int count = 1 + static_cast<int>(pick(3));
    for (int k = 0; k < count && !text.empty(); ++k) {
      switch (pick(binary_ ? 4 : 9)) {
        case 0:  // truncate
          text.resize(pick(text.size()));
          break;
        case 1: {  // flip one bit
          const std::size_t at = pick(text.size());
          text[at] = static_cast<char>(text[at] ^ (1 << pick(8)));
          break;
        }
        case 2: {  // overwrite a run of bytes with zeros or random bytes
          const std::size_t at = pick(text.size()), length = 1 + pick(16);
          const bool zeros = pick(2) == 0;
          for (std::size_t i = at; i < std::min(text.size(), at + length); ++i)
            text[i] = zeros ? '\0' : static_cast<char>(pick(256));
          break;
        }
        case 3: {  // duplicate or drop a block
          const std::size_t at = pick(text.size()), length = 1 + pick(64);
          if (pick(2) == 0)
            text.insert(at, text.substr(at, length));
          else
            text.erase(at, length);
          break;
        }
        case 4:
        case 5:
        case 6:
          replace_number(text);
          break;
        case 7: {  // drop or duplicate a line
          const auto [begin, end] = line_at(text, pick(text.size()));
          if (pick(2) == 0)
            text.erase(begin, end - begin);
          else
            text.insert(begin, text.substr(begin, end - begin));
          break;
        }
        case 8: {  // insert a random word
          static const char* const words[] = {" ", "\t", "\n", "=", "\"", "'", "#",    ":",  ",",
                                              "[", "]",  "{",  "}", "-",  "é", "\xff", "Xx", "0"};
          text.insert(pick(text.size() + 1), words[pick(std::size(words))]);
          break;
        }
      }
    }
    return text;
  }

  void set_binary(bool binary) { binary_ = binary; }

 private:
  std::size_t pick(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }

  static std::pair<std::size_t, std::size_t> line_at(const std::string& text, std::size_t at) {
    std::size_t begin = text.rfind('\n', at == 0 ? 0 : at - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    std::size_t end = text.find('\n', at);
    end = end == std::string::npos ? text.size() : end + 1;
    return {std::min(begin, text.size()), end};
  }

  // Replaces a number (a run of digits, signs, dots and exponents) with a hostile one.
  void replace_number(std::string& text) {
    static const char* const hostile[] = {
        "nan",         "NaN",         "inf",    "-inf", "1e308", "1e999",
        "-1e30",       "1e30",        "0",      "-1",   "-0",    "2147483648",
        "4294967296",  "99999999999", "1e-320", "0.0",  "3",     "1000000000",
        "-2147483649", "0x10",        "1e",     ".",    "+-1"};
    for (int attempt = 0; attempt < 8; ++attempt) {
      const std::size_t at = pick(text.size());
      if (!std::isdigit(static_cast<unsigned char>(text[at]))) continue;
      std::size_t begin = at, end = at;
      auto numeric = [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
               c == '-' || c == '+';
      };
      while (begin > 0 && numeric(text[begin - 1])) --begin;
      while (end < text.size() && numeric(text[end])) ++end;
      text.replace(begin, end - begin, hostile[pick(std::size(hostile))]);
      return;
    }
  }

  std::mt19937_64 random_;
  bool binary_ = false;
};

bool finite_structure(const Structure& s) {
  if (!s.positions.allFinite() || !s.cell.allFinite()) return false;
  if (s.energy && !std::isfinite(*s.energy)) return false;
  if (s.forces && !s.forces->allFinite()) return false;
  if (s.stress && !s.stress->allFinite()) return false;
  return true;
}

// Tally of one reader's cases; a failure is any outcome but a clean error or
// a sound result, reported with the input that caused it.
struct Tally {
  explicit Tally(std::string name) : reader(std::move(name)) {}
  std::string reader;
  long cases = 0, accepted = 0, rejected = 0, failures = 0;
  std::string first_failure;

  template <class Case>
  void run(const std::string& input, Case&& check) {
    ++cases;
    try {
      if (check()) {
        ++accepted;
      } else {
        fail("accepted with non-finite or inconsistent output", input);
      }
    } catch (const Error& error) {
      if (std::string(error.what()).empty())
        fail("otfgp::Error without a message", input);
      else
        ++rejected;
    } catch (const std::exception& error) {
      fail(std::string("not an otfgp::Error: ") + typeid(error).name() + ": " + error.what(),
           input);
    }
  }

  void fail(const std::string& what, const std::string& input) {
    ++failures;
    if (first_failure.empty())
      first_failure = what + "\n--- input (first 2000 bytes) ---\n" + input.substr(0, 2000);
  }

  void report() const {
    WARN(reader << ": " << cases << " cases, " << accepted << " accepted, " << rejected
                << " rejected with otfgp::Error, " << failures << " failures");
    INFO(first_failure);
    CHECK(failures == 0);
  }
};

Structure labelled(Structure s, const std::string& spec) {
  auto potential = make_potential(spec);
  attach_labels(s, evaluate(*potential, s));
  return s;
}

const std::string argon_lj = "lj:eps=0.0104,sigma=3.4,rc=6.0";

// A small valid EAM file in each LAMMPS flavour, so that each case parses fast.
std::string small_eam(const std::string& flavour) {
  const int n = 40;
  const double dr = 0.15, drho = 0.05, cutoff = dr * (n - 1);
  std::ostringstream out;
  out.precision(10);
  auto table = [&](auto f, double step) {
    for (int i = 0; i < n; ++i) out << f(i * step) << (i % 5 == 4 ? "\n" : " ");
  };
  auto embed = [](double rho) { return -std::sqrt(rho + 1e-12); };
  auto density = [&](double r) { return std::exp(-r) * std::pow(std::max(cutoff - r, 0.0), 2); };
  auto pair_r = [&](double r) {
    return 2.0 * std::exp(-2 * r) * r * std::pow(std::max(cutoff - r, 0.0), 2);
  };
  if (flavour == "eam") {
    out << "funcfl Cu test\n29 63.546 3.615 fcc\n"
        << n << " " << drho << " " << n << " " << dr << " " << cutoff << "\n";
    table(embed, drho);
    table([&](double r) { return std::sqrt(pair_r(r) / 27.2 * 0.529); }, dr);
    table(density, dr);
    return out.str();
  }
  out << "test\ntest\ntest\n2 Cu Ni\n"
      << n << " " << drho << " " << n << " " << dr << " " << cutoff << "\n";
  for (int e = 0; e < 2; ++e) {
    out << (e == 0 ? "29 63.546 3.615 fcc\n" : "28 58.69 3.52 fcc\n");
    table(embed, drho);
    for (int j = 0; j < (flavour == "eam/fs" ? 2 : 1); ++j) table(density, dr);
  }
  for (int p = 0; p < 3; ++p) table(pair_r, dr);
  return out.str();
}

}  // namespace

TEST_CASE("fuzz: extended XYZ reader", "[fuzz]") {
  quiet_log();
  std::vector<Structure> frames;
  frames.push_back(labelled(fcc(18, 5.26, 1), argon_lj));
  Structure molecule = fcc(18, 5.26, 1);
  molecule.pbc = {false, false, false};
  molecule.cell.setZero();
  frames.push_back(labelled(molecule, argon_lj));
  std::ostringstream valid;
  write_extxyz(valid, frames);
  Mutator mutate(fuzz_seed());
  Tally tally{"extxyz"};
  for (long k = 0; k < fuzz_cases(2000); ++k) {
    const std::string input = mutate(valid.str());
    tally.run(input, [&] {
      std::istringstream stream(input);
      const auto read = read_extxyz(stream, "fuzz.xyz");
      for (const auto& s : read)
        if (!finite_structure(s)) return false;
      return true;
    });
  }
  tally.report();
}

TEST_CASE("fuzz: POSCAR reader", "[fuzz]") {
  quiet_log();
  std::ostringstream valid;
  write_poscar(valid, diamond(14, 5.431, 1));
  Mutator mutate(fuzz_seed() + 1);
  Tally tally{"POSCAR"};
  for (long k = 0; k < fuzz_cases(2000); ++k) {
    const std::string input = mutate(valid.str());
    tally.run(input, [&] {
      std::istringstream stream(input);
      return finite_structure(read_poscar(stream, "POSCAR"));
    });
  }
  tally.report();
}

TEST_CASE("fuzz: potential parameter files", "[fuzz]") {
  quiet_log();
  TemporaryDirectory dir;
  struct Format {
    std::string style, file, text;
    Structure probe;
  };
  std::vector<Format> formats = {
      {"sw", "x.sw", read_text("/usr/share/lammps/potentials/Si.sw"), diamond(14, 5.431, 1)},
      {"tersoff", "x.tersoff", read_text("/usr/share/lammps/potentials/SiC.tersoff"),
       [] {
         Structure s = diamond(14, 4.36, 1);
         for (int i = 0; i < s.size(); i += 2) s.numbers[i] = 6;
         return s;
       }()},
      {"eam", "x.eam", small_eam("eam"), fcc(29, 3.615, 1)},
      {"eam/alloy", "x.eam.alloy", small_eam("eam/alloy"),
       [] {
         Structure s = fcc(29, 3.6, 1);
         s.numbers[1] = 28;
         return s;
       }()},
      {"eam/fs", "x.eam.fs", small_eam("eam/fs"),
       [] {
         Structure s = fcc(29, 3.6, 1);
         s.numbers[1] = 28;
         return s;
       }()},
      {"buck", "x.buck", read_text(std::string(OTFGP_SOURCE_DIR) + "/potentials/params/NaCl.buck"),
       [] {
         Structure s = fcc(11, 5.64, 1);
         Structure rocksalt = s;
         rocksalt.numbers.clear();
         rocksalt.positions.resize(8, 3);
         for (int i = 0; i < 4; ++i) {
           rocksalt.positions.row(2 * i) = s.positions.row(i);
           rocksalt.positions.row(2 * i + 1) = s.positions.row(i) + Eigen::RowVector3d(2.82, 0, 0);
           rocksalt.numbers.push_back(11);
           rocksalt.numbers.push_back(17);
         }
         return rocksalt;
       }()},
  };
  for (std::size_t f = 0; f < formats.size(); ++f) {
    const Format& format = formats[f];
    const auto path = dir / format.file;
    // The unmutated file works.
    write_text(path, format.text);
    const Evaluation reference =
        evaluate(*make_potential(format.style + ":" + path.string()), format.probe);
    REQUIRE(std::isfinite(reference.energy));
    Mutator mutate(fuzz_seed() + 10 + f);
    Tally tally{"potential file " + format.style};
    for (long k = 0; k < fuzz_cases(300); ++k) {
      const std::string input = mutate(format.text);
      write_text(path, input);
      tally.run(input, [&] {
        auto potential = make_potential(format.style + ":" + path.string());
        const Evaluation result = evaluate(*potential, format.probe);
        return std::isfinite(result.energy) && result.forces.allFinite();
      });
    }
    tally.report();
  }
}

TEST_CASE("fuzz: YAML configs (md, train)", "[fuzz]") {
  quiet_log();
  const std::string md =
      "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 2}\n"
      "potential: " +
      argon_lj +
      "\n"
      "ensemble: npt\ntemperature: 70\ntimestep: 4\nseed: 17\nsteps: 200\n"
      "thermostat: {type: langevin, damping: 150}\n"
      "barostat: {pressure: 1.0, damping: 1000}\n"
      "output: {directory: out, thermo_interval: 20, trajectory_interval: 40, restart_interval: "
      "120}\n";
  REQUIRE_NOTHROW(md::parse_run_config(md, "md.yaml"));
  Mutator mutate(fuzz_seed() + 20);
  Tally md_tally{"md config"};
  for (long k = 0; k < fuzz_cases(1500); ++k) {
    const std::string input = mutate(md);
    md_tally.run(input, [&] {
      const md::RunConfig config = md::parse_run_config(input, "md.yaml");
      return config.steps >= 1 && std::isfinite(config.engine.timestep) &&
             config.engine.timestep > 0;
    });
  }
  md_tally.report();

  const std::string train =
      "descriptor: {cutoff: 5.0, n_max: 4, l_max: 3}\n"
      "kernel: {power: 2}\n"
      "hyperparameters: {signal_std: 1.0, energy_noise: 0.001, force_noise: 0.05, "
      "stress_noise: 0.01}\n";
  const std::vector<int> species = {14};
  bool train_valid = true;
  try {
    parse_gp_train_config(train, "train.yaml", species);
  } catch (const Error& error) {
    train_valid = false;
    WARN("the train config seed is not valid here: " << error.what());
  }
  Tally train_tally{"train config"};
  for (long k = 0; k < fuzz_cases(1500); ++k) {
    const std::string input = mutate(train);
    train_tally.run(input, [&] {
      parse_gp_train_config(input, "train.yaml", species);
      return true;
    });
  }
  CHECK(train_valid);
  train_tally.report();
}

TEST_CASE("fuzz: hull tables (CSV and JSON)", "[fuzz]") {
  quiet_log();
  TemporaryDirectory dir;
  const std::string csv =
      "id,formula,energy,volume,std\nBa,Ba,-1.9,63,0.01\nO,O2,-9.8,22,\nBaO,BaO,-12.1,42,0.02\n"
      "BaO2,BaO2,-16.0,55,\nRh,Rh,-7.3,14,\n";
  const std::string json =
      R"({"entries": [{"id": "Ba", "formula": "Ba", "energy_per_atom": -1.9, "volume_per_atom": 63},)"
      R"( {"id": "O", "formula": "O2", "energy_per_atom": -4.9, "volume_per_atom": 11},)"
      R"( {"id": "BaO", "formula": "BaO", "energy_per_atom": -6.05, "std": 0.02}]})";
  for (const auto& [name, text] :
       {std::pair<std::string, std::string>{"t.csv", csv}, {"t.json", json}}) {
    write_text(dir / name, text);
    REQUIRE_NOTHROW(read_phase_table(dir / name));
    Mutator mutate(fuzz_seed() + 30 + name.size());
    Tally tally{"hull table " + name};
    for (long k = 0; k < fuzz_cases(1000); ++k) {
      const std::string input = mutate(text);
      write_text(dir / name, input);
      tally.run(input, [&] {
        const auto records = read_phase_table(dir / name);
        const Hull hull = compute_hull(hull_entries_at(records, 0.0));
        for (const auto& entry : hull.entries)
          if (entry.included && !std::isfinite(entry.e_above_hull)) return false;
        return true;
      });
    }
    tally.report();
  }
}

TEST_CASE("fuzz: HDF5 model and restart files", "[fuzz]") {
  quiet_log();
  TemporaryDirectory dir;
  const std::string d = dir.path().string();
  // A real model and a real restart, made by the CLI.
  std::vector<Structure> frames;
  for (int k = 0; k < 2; ++k) {
    Structure s = diamond(14, 5.431, 1);
    rattle(s, 0.1, 40 + k);
    frames.push_back(labelled(s, "sw:/usr/share/lammps/potentials/Si.sw"));
  }
  write_structures(dir / "data.xyz", frames);
  write_text(dir / "train.yaml", "descriptor: {cutoff: 4.0, n_max: 3, l_max: 2}\n");
  CommandResult made = run_otfgp("-q train --data " + d + "/data.xyz --config " + d +
                                 "/train.yaml -o " + d + "/model.h5");
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  write_text(dir / "md.yaml",
             "structure: {lattice: fcc, elements: [Ar], a: 5.30, repeat: 1}\n"
             "potential: " +
                 argon_lj +
                 "\nensemble: nve\ntemperature: 50\n"
                 "timestep: 4\nsteps: 3\noutput: {directory: " +
                 d + "/out}\n");
  made = run_otfgp("-q md " + d + "/md.yaml");
  INFO(made.output);
  REQUIRE(made.exit_code == 0);

  const std::string model = read_text(dir / "model.h5"),
                    restart = read_text(dir / "out/restart.h5");
  Mutator mutate(fuzz_seed() + 40);
  mutate.set_binary(true);
  Tally model_tally{"GP model (HDF5)"}, restart_tally{"md restart (HDF5)"};
  for (long k = 0; k < fuzz_cases(300); ++k) {
    const std::string damaged = mutate(model);
    write_text(dir / "fuzz_model.h5", damaged);
    const std::string where =
        "case " + std::to_string(k) + " (" + std::to_string(damaged.size()) + " bytes)";
    model_tally.run(where, [&] {
      for (const char* variant : {"", ",mapped=no"}) {
        auto potential = make_potential("gp:" + d + "/fuzz_model.h5" + variant);
        const Evaluation result = evaluate(*potential, frames[0]);
        if (!std::isfinite(result.energy)) return false;
      }
      return true;
    });
    const std::string damaged_restart = mutate(restart);
    write_text(dir / "fuzz_restart.h5", damaged_restart);
    restart_tally.run(where, [&] {
      const md::RestartData data = md::read_restart_file(dir / "fuzz_restart.h5");
      return finite_structure(data.structure) && data.velocities.allFinite();
    });
  }
  model_tally.report();
  restart_tally.report();
}

// A few damaged inputs through the command line: exit 0, or exit 1 with one
// "otfgp: error:" line naming the file; never a crash or an internal error.
TEST_CASE("fuzz: command line on damaged inputs", "[fuzz][cli]") {
  TemporaryDirectory dir;
  std::ostringstream valid;
  write_extxyz(valid, {labelled(fcc(18, 5.26, 1), argon_lj)});
  Mutator mutate(fuzz_seed() + 50);
  long failures = 0;
  const long cases = std::max(4L, fuzz_cases(2000) / 100);
  for (long k = 0; k < cases; ++k) {
    const std::string input = mutate(valid.str());
    write_text(dir / "in.xyz", input);
    const CommandResult run = run_otfgp("-q eval -p " + argon_lj + " " + (dir / "in.xyz").string() +
                                        " -o " + (dir / "out.xyz").string());
    const bool clean =
        run.exit_code == 0 || (run.exit_code == 1 && run.output.rfind("otfgp: error: ", 0) == 0 &&
                               run.output.find("in.xyz") != std::string::npos);
    if (!clean) {
      ++failures;
      UNSCOPED_INFO("exit " << run.exit_code << ": " << run.output << "\ninput:\n" << input);
    }
  }
  WARN("eval CLI: " << cases << " cases, " << failures << " failures");
  CHECK(failures == 0);
}
