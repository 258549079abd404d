// otfgp-lammps (src/lammps) against otfgp's own evaluation (what `otfgp eval`
// computes) and its own MD engine (`otfgp md`), under Debian's OpenMPI with
// one and two ranks: energies, forces, virials, per-atom energies and GP
// uncertainties on small triclinic cells of 1–3 species, NVE dynamics, and the
// errors that must stop a job before its run.

#include <sys/wait.h>

#include <Eigen/LU>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "otfgp/core/elements.hpp"
#include "otfgp/core/io.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "otfgp/potentials/potential.hpp"
#include "support/cli.hpp"
#include "support/structures.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::testing;

namespace {

// LAMMPS metal units: pressure (bar) × volume (Å³) / nktv2p = eV.
constexpr double nktv2p = 1.6021765e6;

CommandResult run_shell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1 < /dev/null").c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot start: " + command);
  CommandResult result;
  char buffer[4096];
  std::size_t count;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    result.output.append(buffer, count);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// `mpirun -np ranks otfgp-lammps arguments` in `directory`.
CommandResult run_otfgp_lammps(const std::filesystem::path& directory, int ranks,
                               const std::string& arguments) {
  return run_shell("cd '" + directory.string() + "' && " + OTFGP_MPIEXEC +
                   " --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " " +
                   OTFGP_LAMMPS_PATH + " " + arguments);
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// A LAMMPS data file of `structure` (its cell lower-triangular, as LAMMPS
// wants), type t holding element types[t − 1], masses from otfgp's table.
void write_data(const std::filesystem::path& path, const Structure& structure,
                const std::vector<std::string>& types) {
  const Eigen::Matrix3d& h = structure.cell;
  REQUIRE(h(0, 1) == 0.0);
  REQUIRE(h(0, 2) == 0.0);
  REQUIRE(h(1, 2) == 0.0);
  std::ofstream out(path);
  char line[512];
  out << "# otfgp-lammps test\n\n"
      << structure.size() << " atoms\n"
      << types.size() << " atom types\n\n";
  std::snprintf(line, sizeof line,
                "0 %.17g xlo xhi\n0 %.17g ylo yhi\n0 %.17g zlo zhi\n%.17g %.17g %.17g xy xz yz\n\n",
                h(0, 0), h(1, 1), h(2, 2), h(1, 0), h(2, 0), h(2, 1));
  out << line << "Masses\n\n";
  for (std::size_t t = 0; t < types.size(); ++t) {
    std::snprintf(line, sizeof line, "%zu %.17g\n", t + 1, element(atomic_number(types[t])).mass);
    out << line;
  }
  out << "\nAtoms # atomic\n\n";
  for (int i = 0; i < structure.size(); ++i) {
    const std::string symbol = element(structure.numbers[i]).symbol;
    const auto type = std::find(types.begin(), types.end(), symbol) - types.begin() + 1;
    std::snprintf(line, sizeof line, "%d %ld %.17g %.17g %.17g\n", i + 1, long(type),
                  structure.positions(i, 0), structure.positions(i, 1), structure.positions(i, 2));
    out << line;
  }
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

struct LammpsResult {
  double energy = 0;
  Voigt virial = Voigt::Zero();               // eV, otfgp's Voigt order
  Voigt per_atom_virial_sum = Voigt::Zero();  // −Σ compute stress/atom (eV), otfgp's order
  Positions forces;
  Eigen::VectorXd per_atom_energy, std_dev;
};

const std::string single_point_input = R"(units metal
atom_style atomic
boundary p p p
read_data data.lmp
neighbor 1.0 bin
fix ext all external pf/callback 1 1
compute pe_atom all pe/atom
compute vir all pressure NULL virial
compute stress_atom all stress/atom NULL virial
compute stress_sum all reduce sum c_stress_atom[1] c_stress_atom[2] c_stress_atom[3] c_stress_atom[4] c_stress_atom[5] c_stress_atom[6]
thermo_style custom step pe c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6] vol c_stress_sum[1] c_stress_sum[2] c_stress_sum[3] c_stress_sum[4] c_stress_sum[5] c_stress_sum[6]
)";

const std::string single_point_run =
    R"lammps(dump forces all custom 1 forces.dump id fx fy fz c_pe_atom ${extra}
dump_modify forces sort id format float %.17g
run 0
print "$(pe:%.17g) $(c_vir[1]:%.17g) $(c_vir[2]:%.17g) $(c_vir[3]:%.17g) $(c_vir[4]:%.17g) $(c_vir[5]:%.17g) $(c_vir[6]:%.17g) $(vol:%.17g) $(c_stress_sum[1]:%.17g) $(c_stress_sum[2]:%.17g) $(c_stress_sum[3]:%.17g) $(c_stress_sum[4]:%.17g) $(c_stress_sum[5]:%.17g) $(c_stress_sum[6]:%.17g)" file result.txt screen no
)lammps";

// Runs `run 0` of `structure` in LAMMPS with the potential `spec`.
LammpsResult run_single_point(const std::filesystem::path& directory, const Structure& structure,
                              const std::vector<std::string>& types, const std::string& spec,
                              int ranks, bool with_std = false) {
  write_data(directory / "data.lmp", structure, types);
  std::string input = single_point_input;
  if (with_std) input += "fix std all property/atom d_otfgp_std\n";
  write_text(directory / "in.lmp", input + single_point_run);
  const CommandResult run = run_otfgp_lammps(
      directory, ranks,
      "-in in.lmp -log log.lammps -screen none -var extra '" +
          std::string(with_std ? "d_otfgp_std" : "") + "' --potential " + spec +
          " --fix ext --types " + join(types) + (with_std ? " --std-every 1" : ""));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);

  LammpsResult result;
  std::ifstream numbers(directory / "result.txt");
  double pressure[6], volume = 0;
  numbers >> result.energy;
  for (double& p : pressure) numbers >> p;
  numbers >> volume;
  double stress_sum[6];
  for (double& p : stress_sum) numbers >> p;
  REQUIRE(numbers);
  const double lammps_virial[6] = {pressure[0], pressure[1], pressure[2],
                                   pressure[3], pressure[4], pressure[5]};  // xx yy zz xy xz yz
  const int order[6] = {0, 1, 2, 5, 4, 3};
  for (int c = 0; c < 6; ++c) {
    result.virial[c] = lammps_virial[order[c]] * volume / nktv2p;
    result.per_atom_virial_sum[c] = -stress_sum[order[c]] / nktv2p;
  }

  const int n = structure.size();
  result.forces.resize(n, 3);
  result.per_atom_energy.resize(n);
  result.std_dev.resize(n);
  std::ifstream dump(directory / "forces.dump");
  std::string line;
  for (int k = 0; k < 9; ++k) std::getline(dump, line);
  for (int i = 0; i < n; ++i) {
    int id = 0;
    dump >> id;
    REQUIRE(id == i + 1);
    dump >> result.forces(i, 0) >> result.forces(i, 1) >> result.forces(i, 2) >>
        result.per_atom_energy[i];
    if (with_std) dump >> result.std_dev[i];
  }
  REQUIRE(dump);
  return result;
}

// Energy, virial, forces and per-atom energies of LAMMPS via otfgp-lammps
// against otfgp's own periodic evaluation of the same structure.
void check_parity(const std::string& spec, const Structure& structure,
                  const std::vector<std::string>& types, int ranks, bool with_std = false) {
  auto potential = make_potential(spec);
  ComputeRequest request;
  request.per_atom_energy = true;
  request.uncertainty = with_std;
  const Evaluation reference = evaluate(*potential, structure, request);
  const Voigt reference_virial = -reference.stress.value() * std::abs(structure.cell.determinant());

  TemporaryDirectory directory("otfgp-lammps");
  const LammpsResult lammps =
      run_single_point(directory.path(), structure, types, spec, ranks, with_std);
  INFO(spec << " with " << ranks << " rank(s), " << structure.size() << " atoms");
  CHECK(std::abs(lammps.energy - reference.energy) <= 1e-10 * std::abs(reference.energy));
  const double virial_scale = std::max(1.0, reference_virial.cwiseAbs().maxCoeff());
  CHECK((lammps.virial - reference_virial).cwiseAbs().maxCoeff() <= 1e-10 * virial_scale);
  // Per-atom virials (compute stress/atom) add up to the virial.
  CHECK((lammps.per_atom_virial_sum - reference_virial).cwiseAbs().maxCoeff() <=
        1e-10 * virial_scale);
  CHECK((lammps.forces - reference.forces).cwiseAbs().maxCoeff() <= 1e-10);
  CHECK((lammps.per_atom_energy - *reference.per_atom_energy).cwiseAbs().maxCoeff() <=
        1e-10 * std::max(1.0, reference.per_atom_energy->cwiseAbs().maxCoeff()));
  if (with_std) {
    // The normalised std (u/σ, docs/lammps.md), not the one in eV: σ is not 1
    // here, so the two differ.
    const double sigma =
        reference.uncertainty->maxCoeff() / reference.uncertainty_normalised->maxCoeff();
    REQUIRE(std::abs(sigma - 1.0) > 0.05);
    CHECK((lammps.std_dev - *reference.uncertainty_normalised).cwiseAbs().maxCoeff() <= 1e-10);
  }
  // The test must be able to fail: the forces are not all zero.
  CHECK(reference.forces.cwiseAbs().maxCoeff() > 1e-3);
}

Structure random_in(const Eigen::Matrix3d& cell, const std::vector<int>& numbers, double spacing,
                    std::uint64_t seed) {
  return random_structure(cell, numbers, spacing, seed);
}

std::vector<int> repeated(const std::vector<int>& pattern, int count) {
  std::vector<int> numbers;
  for (int i = 0; i < count; ++i) numbers.push_back(pattern[i % pattern.size()]);
  return numbers;
}

// Zincblende SiC (a = 4.36 Å), n×n×n conventional cells: Si on the fcc sites.
Structure silicon_carbide(int n) {
  Structure s = diamond(14, 4.36, n);
  // diamond() lists each cell's four fcc sites, then the four shifted by (¼, ¼, ¼).
  for (int i = 0; i < s.size(); ++i) s.numbers[i] = i % 8 < 4 ? 14 : 6;
  return s;
}

// A tiny GP for Si–C, trained once per test run with `otfgp train` on
// Tersoff-labelled rattled zincblende cells.
const std::filesystem::path& gp_model() {
  static TemporaryDirectory directory("otfgp-lammps-model");
  static const std::filesystem::path model = [] {
    auto tersoff = make_potential("tersoff:SiC.tersoff");
    std::vector<Structure> frames;
    for (int f = 0; f < 20; ++f) {
      Structure s = silicon_carbide(1);
      // Strained by up to ±2 % and rattled by 0.04–0.16 Å: the neighbourhood of
      // the crystal that the NVE test visits, and then some.
      const double strain = 1.0 + 0.02 * ((f % 5) - 2) / 2.0;
      s.cell *= strain;
      s.positions *= strain;
      rattle(s, 0.04 + 0.04 * (f % 4), 700 + f);
      attach_labels(s, evaluate(*tersoff, s));
      frames.push_back(s);
    }
    write_structures(directory / "train.xyz", frames);
    write_text(directory / "train.yaml", R"(descriptor: {n_max: 4, l_max: 3, cutoff: 3.6}
kernel: {power: 2}
sparse: {method: uncertain, count: 64}
hyperparameters:
  signal_std: 1.0
  force_noise: 0.02
  max_evaluations: 40
reference_energies: fit
)");
    const std::filesystem::path path = directory / "model.h5";
    const CommandResult train =
        run_otfgp("train --data " + (directory / "train.xyz").string() + " --config " +
                  (directory / "train.yaml").string() + " -o " + path.string());
    INFO(train.output);
    REQUIRE(train.exit_code == 0);
    return path;
  }();
  return model;
}

}  // namespace

TEST_CASE("otfgp-lammps equals otfgp eval for SW Tersoff Buckingham-DSF and EAM",
          "[lammps][parity]") {
  const int ranks = GENERATE(1, 2);
  SECTION("sw: GaN, two species, triclinic cell shorter than the ghost cutoff") {
    const Structure s =
        random_in(triclinic_cell(6.4, 6.9, 7.3, 0.21, -0.13, 0.17), repeated({31, 7}, 20), 1.9, 11);
    check_parity("sw:GaN.sw", s, {"Ga", "N"}, ranks);
  }
  SECTION("tersoff: BNC, three species, types not in atomic-number order") {
    const Structure s = random_in(triclinic_cell(6.1, 5.8, 6.6, -0.18, 0.22, 0.09),
                                  repeated({7, 5, 6}, 18), 1.35, 12);
    check_parity("tersoff:BNC.tersoff", s, {"N", "B", "C"}, ranks);
  }
  SECTION("buck: Ba-Rh-O with DSF Coulomb, three species") {
    const Structure s = random_in(triclinic_cell(7.9, 8.3, 8.6, 0.12, 0.19, -0.24),
                                  repeated({56, 45, 8, 8, 8}, 20), 1.85, 13);
    check_parity("buck:BaRhO.buck", s, {"O", "Rh", "Ba"}, ranks);
  }
  SECTION("eam/alloy: Cu-Ni, two species") {
    const Structure s =
        random_in(triclinic_cell(7.2, 7.4, 7.0, 0.15, -0.2, 0.1), repeated({29, 28}, 22), 2.1, 14);
    check_parity("eam/alloy:CuNi.eam.alloy", s, {"Cu", "Ni"}, ranks);
  }
}

TEST_CASE("otfgp-lammps equals otfgp eval for a trained GP with its uncertainty",
          "[lammps][parity][gp]") {
  const std::filesystem::path& model = gp_model();
  const int ranks = GENERATE(1, 2);
  Structure s = silicon_carbide(1);
  s.cell = triclinic_cell(4.36, 4.41, 4.33, 0.04, -0.03, 0.05);
  s.positions = s.positions * Eigen::Matrix3d(diamond(14, 4.36, 1).cell.inverse()) * s.cell;
  rattle(s, 0.12, 21);
  // Type 1 is Si, type 2 is C: the order of --types, not of the atomic numbers.
  check_parity("gp:" + model.string(), s, {"Si", "C"}, ranks, true);
}

TEST_CASE("a GP NVE run in LAMMPS follows otfgp md", "[lammps][md][gp]") {
  const std::filesystem::path& model = gp_model();
  TemporaryDirectory directory("otfgp-lammps-md");
  Structure start = silicon_carbide(2);
  rattle(start, 0.04, 31);
  const int natoms = start.size();
  write_data(directory / "data.lmp", start, {"Si", "C"});
  write_structures(directory / "start.xyz", {start});

  write_text(directory / "in.lmp", R"(units metal
atom_style atomic
boundary p p p
read_data data.lmp
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
fix ext all external pf/callback 1 1
fix integrate all nve
timestep 0.001
thermo 10
thermo_style custom step pe ke etotal
thermo_modify format float %.17g
run 1000
)");
  const CommandResult lammps =
      run_otfgp_lammps(directory.path(), 2,
                       "-in in.lmp -log log.lammps -screen none --potential gp:" + model.string() +
                           " --fix ext --types Si C");
  INFO(lammps.output);
  REQUIRE(lammps.exit_code == 0);

  write_text(directory / "md.yaml",
             "structure: {file: start.xyz}\npotential: gp:" + model.string() + R"(
ensemble: nve
initial_temperature: 0
timestep: 1.0
steps: 1000
neighbor: {skin: 1.0}
output: {directory: md, thermo_interval: 10, trajectory_interval: 0}
)");
  const CommandResult md =
      run_shell("cd '" + directory.path().string() + "' && " + OTFGP_CLI_PATH + " md md.yaml");
  INFO(md.output);
  REQUIRE(md.exit_code == 0);

  // step → total energy (eV) from each engine's thermo output.
  std::map<long, double> lammps_total, otfgp_total;
  {
    std::ifstream log(directory / "log.lammps");
    std::string line;
    bool in_table = false;
    while (std::getline(log, line)) {
      if (line.rfind("Step", 0) == 0 || line.find(" Step ") != std::string::npos) {
        in_table = true;
        continue;
      }
      if (line.rfind("Loop time", 0) == 0) in_table = false;
      if (!in_table) continue;
      std::istringstream fields(line);
      long step;
      double pe, ke, total;
      if (fields >> step >> pe >> ke >> total) lammps_total[step] = total;
    }
  }
  {
    std::ifstream thermo(directory / "md" / "thermo.dat");
    std::string line;
    while (std::getline(thermo, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      long step;
      double time, temperature, pe, total;
      if (fields >> step >> time >> temperature >> pe >> total) otfgp_total[step] = total;
    }
  }
  REQUIRE(lammps_total.size() == 101);
  REQUIRE(otfgp_total.size() == 101);
  double largest_difference = 0, lammps_deviation = 0, otfgp_deviation = 0;
  for (long step = 0; step <= 1000; step += 10) {
    REQUIRE(lammps_total.count(step) == 1);
    REQUIRE(otfgp_total.count(step) == 1);
    if (step <= 100)
      largest_difference =
          std::max(largest_difference, std::abs(lammps_total[step] - otfgp_total[step]) / natoms);
    lammps_deviation =
        std::max(lammps_deviation, std::abs(lammps_total[step] - lammps_total[0]) / natoms);
    otfgp_deviation =
        std::max(otfgp_deviation, std::abs(otfgp_total[step] - otfgp_total[0]) / natoms);
  }
  // Drift: least-squares slope of E_tot per atom over the run (eV/atom/ps).
  auto slope = [&](const std::map<long, double>& total) {
    double st = 0, se = 0, stt = 0, ste = 0, count = 0;
    for (const auto& [step, energy] : total) {
      const double t = step * 1e-3, e = energy / natoms;
      st += t, se += e, stt += t * t, ste += t * e, count += 1;
    }
    return (count * ste - st * se) / (count * stt - st * st);
  };
  const double lammps_slope = slope(lammps_total), otfgp_slope = slope(otfgp_total);
  // Reported by `test_lammps "[md]" -s` (docs/lammps.md quotes it).
  std::printf(
      "GP NVE, %d atoms, 1000 steps of 1 fs: largest |dE_tot| LAMMPS vs otfgp md over steps "
      "0-100: %.3g eV/atom; largest |E_tot(t) - E_tot(0)|: LAMMPS %.3g, otfgp %.3g eV/atom; "
      "drift (slope): LAMMPS %.3g, otfgp %.3g eV/atom/ps\n",
      natoms, largest_difference, lammps_deviation, otfgp_deviation, lammps_slope, otfgp_slope);
  CHECK(largest_difference <= 1e-8);
  // Velocity Verlet's O(dt²) fluctuation of E_tot (light C atoms, 1 fs), no trend.
  CHECK(lammps_deviation <= 5e-4);
  CHECK(otfgp_deviation <= 5e-4);
  CHECK(std::abs(lammps_slope) <= 1e-4);
  CHECK(std::abs(otfgp_slope) <= 1e-4);
  // Both engines moved: the potential energy changed by far more than the tolerance.
  CHECK(std::abs(lammps_total[0]) > 0);
}

TEST_CASE("otfgp-lammps stops before the run on bad bindings", "[lammps][errors]") {
  TemporaryDirectory directory("otfgp-lammps-errors");
  Structure s = silicon_carbide(1);
  write_data(directory / "data.lmp", s, {"Si", "C"});
  write_text(directory / "in.lmp", single_point_input + "${extra}\nrun 0\n");
  auto attempt = [&](const std::string& arguments, const std::string& extra = "") {
    return run_otfgp_lammps(directory.path(), 1,
                            "-in in.lmp -log none -var extra '" + extra + "' " + arguments);
  };
  const std::string tersoff = "--potential tersoff:SiC.tersoff --fix ext ";
  struct Case {
    std::string arguments, extra, message;
  };
  const std::vector<Case> cases = {
      {tersoff + "--types Si", "", "--types names 1 element(s) (Si) but the LAMMPS input has 2"},
      {tersoff + "--types Si Xx", "", "'Xx' is not an element symbol"},
      {tersoff + "--types Si O", "", "O"},
      {"--potential tersoff:SiC.tersoff --fix missing --types Si C", "",
       "the input defines no fix 'missing'"},
      {tersoff + "--types Si C", "comm_modify cutoff 3.0",
       "comm_modify cutoff 3.000000 Å is shorter than 2 × cutoff + skin"},
      {tersoff + "--types Si C --std-every 5", "", "has no uncertainty"},
      {"--potential gp:" + gp_model().string() + " --fix ext --types Si C --std-every 5", "",
       "needs the per-atom property d_otfgp_std"},
      {"--potential gp:" + gp_model().string() + " --fix ext --types Si O", "", "no species O"},
  };
  for (const Case& c : cases) {
    const CommandResult run = attempt(c.arguments, c.extra);
    INFO(c.arguments << " / " << c.extra << "\n" << run.output);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains(c.message));
    // Stopped before LAMMPS ran a step: no thermo table was printed.
    CHECK_THAT(run.output, !Catch::Contains("Step "));
  }
}

TEST_CASE("otfgp-lammps refuses units, fixes and types that would give wrong dynamics",
          "[lammps][errors]") {
  TemporaryDirectory directory("otfgp-lammps-fix");
  Structure s = silicon_carbide(1);
  rattle(s, 0.1, 5);
  write_data(directory / "data.lmp", s, {"Si", "C"});
  // 20 NVE steps; thermo every 5 with pe and pressure to 12 digits.
  auto input = [](const std::string& units, const std::string& fix) {
    return "units " + units +
           "\natom_style atomic\nboundary p p p\nread_data data.lmp\nneighbor 1.0 bin\n"
           "fix ext all external " +
           fix +
           "\nvelocity all create 900 4 loop geom\ntimestep 0.0005\nfix md all nve\n"
           "thermo_style custom step pe press\nthermo_modify format float %.12g\nthermo 5\n"
           "run 20\n";
  };
  auto run_input = [&](const std::string& text, const std::string& types = "Si C", int ranks = 1) {
    write_text(directory / "in.lmp", text);
    return run_otfgp_lammps(directory.path(), ranks,
                            "-in in.lmp -log none --potential tersoff:SiC.tersoff --fix ext "
                            "--types " +
                                types);
  };
  // The thermo lines (step pe press) of a run's output.
  auto thermo = [](const std::string& output) {
    std::vector<std::string> lines;
    std::istringstream in(output);
    std::string line;
    bool table = false;
    while (std::getline(in, line)) {
      if (line.find("Step") != std::string::npos)
        table = true;
      else if (line.rfind("Loop time", 0) == 0)
        table = false;
      else if (table)
        lines.push_back(line);
    }
    return lines;
  };

  const CommandResult reference = run_input(input("metal", "pf/callback 1 1"));
  INFO(reference.output);
  REQUIRE(reference.exit_code == 0);
  REQUIRE(thermo(reference.output).size() == 5);
  CHECK_THAT(reference.output, !Catch::Contains("WARNING: otfgp-lammps"));

  SECTION("Napply > 1: forces and virial still at every step") {
    const CommandResult run = run_input(input("metal", "pf/callback 1 10"));
    INFO(run.output);
    REQUIRE(run.exit_code == 0);
    CHECK(thermo(run.output) == thermo(reference.output));
  }
  SECTION("Napply > 1 under MPI: the virial counted once on every step") {
    // Each rank holds its share of the fix's virial, which compute pressure
    // sums; the whole total on each rank counted it once per rank.
    const CommandResult every = run_input(input("metal", "pf/callback 1 1"), "Si C", 2);
    const CommandResult run = run_input(input("metal", "pf/callback 1 10"), "Si C", 2);
    INFO(every.output << run.output);
    REQUIRE(run.exit_code == 0);
    REQUIRE(thermo(every.output).size() == 5);
    CHECK(thermo(run.output) == thermo(every.output));
  }
  SECTION("runs in chunks without setup (pre no) are not taken for skipped steps") {
    std::string chunks = input("metal", "pf/callback 1 1");
    chunks.replace(chunks.find("run 20\n"), 7, "run 5\nrun 10 pre no post no\nrun 5\n");
    const CommandResult run = run_input(chunks);
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.output, !Catch::Contains("ERROR"));
  }
  SECTION("a fix that sets forces, defined before the fix, is refused") {
    std::string held = input("metal", "pf/callback 1 1");
    held.replace(held.find("fix ext"), 0, "fix hold all setforce 0 0 0\n");
    const CommandResult run = run_input(held);
    INFO(run.output);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains("fix 'hold' (setforce) is defined before fix 'ext'"));
    CHECK_THAT(run.output, !Catch::Contains("Step "));
  }
  SECTION("Ncall > 1 is stopped at its first skipped step") {
    const CommandResult run = run_input(input("metal", "pf/callback 10 1"));
    INFO(run.output);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains("called at step 10 after step 0") &&
                               Catch::Contains("pf/callback 1 1"));
  }
  SECTION("Ncall beyond the run's length is stopped after the run") {
    const CommandResult run = run_input(input("metal", "pf/callback 30 1"));
    INFO(run.output);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains("the last run of 20 steps called fix 'ext' 1 time(s)"));
  }
  SECTION("pf/array never calls the potential: stopped after the run") {
    const CommandResult run = run_input(input("metal", "pf/array 1"));
    INFO(run.output);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains("never called fix 'ext'"));
  }
  SECTION("units other than metal are refused before the run") {
    const CommandResult run = run_input(input("real", "pf/callback 1 1"));
    INFO(run.output);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains("units real") && Catch::Contains("units metal"));
    CHECK_THAT(run.output, !Catch::Contains("Step "));
  }
  SECTION("--types against the data file's masses: a warning") {
    const CommandResult run = run_input(input("metal", "pf/callback 1 1"), "C Si");
    INFO(run.output);
    CHECK_THAT(run.output, Catch::Contains("atom type 1 has mass 28.085 but --types makes it C"));
  }
  SECTION("a negative --std-every is named as such") {
    const CommandResult run = run_otfgp_lammps(directory.path(), 1,
                                               "-in in.lmp --potential tersoff:SiC.tersoff "
                                               "--fix ext --types Si C --std-every -3");
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains("--std-every: '-3' is not a whole number of steps"));
    CHECK(run.exit_code == 2);  // a command-line error
  }
}

namespace {

// Silicon diamond (2×2×2 cells, 64 atoms) at 3000 K under Stillinger-Weber from
// LAMMPS's own Si.sw, the potential driving `fix gp`.
const std::string silicon_input = R"(units metal
atom_style atomic
lattice diamond 5.431
region box block 0 2 0 2 0 2
create_box 1 box
create_atoms 1 box
mass 1 28.085
fix gp all external pf/callback 1 1
velocity all create 3000 1234 loop geom
fix md all nve
thermo 5
)";

CommandResult run_silicon(const std::filesystem::path& directory, const std::string& script,
                          const std::string& extra_arguments = "") {
  write_text(directory / "in.lmp", script);
  return run_otfgp_lammps(
      directory, 1,
      "-in in.lmp -log none --potential sw:Si.sw --fix gp --types Si " + extra_arguments);
}

}  // namespace

TEST_CASE("runs ended early by fix halt or timer timeout are not taken for skipped steps",
          "[lammps][halt]") {
  TemporaryDirectory directory("otfgp-lammps-halt");
  // The temperature falls below 1800 K within ten steps (equipartition).
  const std::string halted = silicon_input +
                             "variable t equal temp\n"
                             "fix stop all halt 1 v_t < 1800 error continue\n"
                             "run 100\n";
  auto check_ran = [](const CommandResult& run) {
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.output, !Catch::Contains("ERROR"));
    CHECK_THAT(run.output, Catch::Contains("Fix halt condition for fix-id stop met on step"));
  };
  SECTION("commands after the halted run still run") {
    const CommandResult run =
        run_silicon(directory.path(), halted + "print \"AFTER FIRST RUN\"\nunfix stop\nrun 10\n");
    check_ran(run);
    CHECK_THAT(run.output,
               Catch::Contains("AFTER FIRST RUN") && Catch::Contains("for 10 steps with 64 atoms"));
  }
  SECTION("the halted run last in the script") {
    check_ran(run_silicon(directory.path(), halted));
  }
  SECTION("write_data after the halted run") {
    check_ran(run_silicon(directory.path(), halted + "write_data halted.data\n"));
    CHECK(std::filesystem::exists(directory / "halted.data"));
  }
  SECTION("runs skipped by an expired timer timeout") {
    const CommandResult run =
        run_silicon(directory.path(), silicon_input +
                                          "timer timeout 0 every 1\nrun 100\nminimize 0 0 10 10\n"
                                          "print \"AFTER TIMEOUT\"\ntimer timeout off\nrun 10\n");
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.output, !Catch::Contains("ERROR"));
    CHECK_THAT(run.output,
               Catch::Contains("AFTER TIMEOUT") && Catch::Contains("for 10 steps with 64 atoms"));
  }
  SECTION("a halted run whose fix skips steps is still caught") {
    std::string skipping = halted;
    skipping.replace(skipping.find("pf/callback 1 1"), 15, "pf/callback 200 1");
    // Halted at step 9 or so: 9 steps made, one call (the setup's).
    skipping.replace(skipping.find("v_t < 1800"), 10, "v_t < 4000");
    const CommandResult run = run_silicon(directory.path(), skipping);
    INFO(run.output);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.output, Catch::Contains("the last run of 1 steps called fix 'gp' 1 time(s)"));
  }
}

TEST_CASE("commands that initialise LAMMPS before the first run find the potential bound",
          "[lammps][hooks]") {
  TemporaryDirectory directory("otfgp-lammps-hooks");
  // Each calls LAMMPS::init(), which refuses a fix external without its callback.
  const std::string command = GENERATE(as<std::string>(), "balance 1.0 shift xyz 5 1.0",
                                       "reset_atom_ids", "delete_atoms overlap 0.5 all all");
  // delete_atoms overlap needs a pair style's neighbour list: one without forces.
  const CommandResult run =
      run_silicon(directory.path(),
                  silicon_input + "pair_style zero 3.0\npair_coeff * *\n" + command + "\nrun 10\n");
  INFO(command << "\n" << run.output);
  CHECK(run.exit_code == 0);
  CHECK_THAT(run.output, !Catch::Contains("ERROR") && !Catch::Contains("callback function"));
  CHECK_THAT(run.output, Catch::Contains("for 10 steps with 64 atoms"));
}

TEST_CASE("the mass check sees masses set after the first hooked command and after clear",
          "[lammps][masses]") {
  TemporaryDirectory directory("otfgp-lammps-masses");
  std::string late = silicon_input;
  late.replace(late.find("mass 1 28.085\n"), 14, "");
  late.replace(late.find("velocity"), 0, "displace_atoms all move 0 0 0\nmass 1 12.011\n");
  const std::string warning = "atom type 1 has mass 12.011 but --types makes it Si";
  SECTION("mass set after displace_atoms") {
    const CommandResult run = run_silicon(directory.path(), late + "run 0\nrun 0\n");
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.output, Catch::Contains(warning));
    // Once per type, not at every command.
    CHECK(run.output.find(warning) == run.output.rfind(warning));
  }
  SECTION("a new system after clear") {
    const CommandResult run =
        run_silicon(directory.path(), silicon_input + "run 0\nclear\n" + late + "run 0\n");
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.output, Catch::Contains(warning));
  }
}

TEST_CASE("a --report path that cannot be written fails before the run", "[lammps][report]") {
  TemporaryDirectory directory("otfgp-lammps-report");
  const std::string script = silicon_input + "run 5\n";
  const std::string dir = directory.path().string();
  struct Case {
    std::string path, message;
  };
  const std::vector<Case> cases = {
      {dir, "--report " + dir + ": is a directory"},
      {dir + "/missing/report.json", "directory '" + dir + "/missing' does not exist"},
  };
  for (const Case& c : cases) {
    const CommandResult run = run_silicon(directory.path(), script, "--report " + c.path);
    INFO(run.output);
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.output, Catch::Contains(c.message));
    CHECK_THAT(run.output, !Catch::Contains("Step "));
  }
  CHECK(!std::filesystem::exists(dir + ".tmp"));
  const CommandResult run = run_silicon(directory.path(), script, "--report report.json");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(std::filesystem::exists(directory / "report.json"));
  CHECK(!std::filesystem::exists(directory / "report.json.tmp"));
}

TEST_CASE("bond constraints and rigid bodies defined before the potential's fix are refused",
          "[lammps][errors][order]") {
  TemporaryDirectory directory("otfgp-lammps-order");
  // Four disjoint nearest-neighbour pairs of the first cell (atoms 1–5, 2–6,
  // 3–7, 4–8), bonds held at 2.3517 Å; atoms 1 and 5 one rigid body.
  const std::string bonded = R"(units metal
atom_style bond
lattice diamond 5.431
region box block 0 2 0 2 0 2
create_box 1 box bond/types 1 extra/bond/per/atom 1 extra/special/per/atom 1
create_atoms 1 box
mass 1 28.085
bond_style zero
bond_coeff 1 2.3517
special_bonds lj/coul 1.0 1.0 1.0
create_bonds single/bond 1 1 5
create_bonds single/bond 1 2 6
create_bonds single/bond 1 3 7
create_bonds single/bond 1 4 8
group dimer id 1 5
group rest subtract all dimer
set group dimer mol 1
velocity all create 1500 1234 loop geom
thermo 10
)";
  const std::string gp = "fix gp all external pf/callback 1 1\n";
  auto script = [&](const std::string& first, const std::string& second,
                    const std::string& integrate) {
    return bonded + integrate + "\n" + first + "\n" + second + "\nrun 20\n";
  };
  // The rigid bodies' setup sums their forces before the potential adds its
  // own: a rattled crystal's first step then moves the body without them.
  const std::string constraint =
      GENERATE(as<std::string>(), "shake", "rattle", "rigid", "rigid/small");
  const std::map<std::string, std::string> arguments = {
      {"shake", "all shake 1e-8 100 0 b 1"},
      {"rattle", "all rattle 1e-8 100 0 b 1"},
      {"rigid", "dimer rigid single"},
      {"rigid/small", "dimer rigid/small molecule"}};
  const std::string fix = "fix hold " + arguments.at(constraint);
  const std::string integrate =
      constraint.rfind("rigid", 0) == 0 ? "fix md rest nve" : "fix md all nve";
  const CommandResult refused = run_silicon(directory.path(), script(fix, gp, integrate));
  INFO(fix << "\n" << refused.output);
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.output,
             Catch::Contains("fix 'hold' (" + constraint + ") is defined before fix 'gp'") &&
                 Catch::Contains("define it after fix 'gp'"));
  CHECK_THAT(refused.output, !Catch::Contains("Step "));
  const CommandResult after = run_silicon(directory.path(), script(gp, fix, integrate));
  INFO(after.output);
  CHECK(after.exit_code == 0);
  CHECK_THAT(after.output, Catch::Contains("for 20 steps with 64 atoms"));
}
