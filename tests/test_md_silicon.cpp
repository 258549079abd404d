// Acceptance of the MD engine on Stillinger–Weber silicon (512 atoms, diamond
// 4×4×4, dt = 1 fs): energy conservation in NVE, canonical temperature and
// kinetic-energy fluctuations with both thermostats, NPT at 10 GPa against
// LAMMPS's fix npt on the same set-up, and exact restarts.
//
// Runs start from Maxwell–Boltzmann velocities at 2000 K on the perfect
// lattice, which equipartition turns into about 1000 K within 0.1 ps; every
// measurement window starts after an equilibration stretch.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "otfgp/core/lattice.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/md/engine.hpp"
#include "otfgp/md/run.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::md;
using otfgp::testing::TemporaryDirectory;

namespace {

const std::string sw_file = "/usr/share/lammps/potentials/Si.sw";
const std::string sw = "sw:" + sw_file;

Structure silicon(double a = 5.431) {
  return build_lattice({"diamond", {"Si"}, a, std::nullopt, {4, 4, 4}});
}

struct Recorder final : StepObserver {
  std::vector<ThermoSample> samples;
  long interval() const override { return 1; }
  bool observe(Engine& engine) override {
    samples.push_back(engine.thermo());
    return true;
  }
};

AtomState start(const Structure& structure, std::uint64_t seed) {
  AtomState state = AtomState::from_structure(structure);
  maxwell_boltzmann(state, 2000.0, seed);
  return state;
}

double mean_of(const std::vector<ThermoSample>& samples, double ThermoSample::*field,
               std::size_t begin, std::size_t end) {
  double sum = 0;
  for (std::size_t k = begin; k < end; ++k) sum += samples[k].*field;
  return sum / static_cast<double>(end - begin);
}

struct Canonical {
  double temperature_ratio;  // ⟨T⟩ / target
  double variance_ratio;     // var(K) / ((N_f/2)(kT)²)
};

Canonical canonical_check(const std::vector<ThermoSample>& samples, int natoms, double target) {
  double mean = 0, variance = 0;
  for (const auto& s : samples) mean += s.kinetic_energy;
  mean /= samples.size();
  for (const auto& s : samples) variance += (s.kinetic_energy - mean) * (s.kinetic_energy - mean);
  variance /= samples.size() - 1;
  const double dof = 3.0 * natoms - 3.0, kT = units::boltzmann * target;
  return {2.0 * mean / (dof * units::boltzmann) / target, variance / (0.5 * dof * kT * kT)};
}

}  // namespace

TEST_CASE("NVE: total energy drifts less than 1e-4 eV/atom over 10 ps at 1000 K",
          "[md][silicon][nve]") {
  EngineSettings settings;
  settings.timestep = 1.0;
  Engine engine(start(silicon(), 7), make_potential(sw), settings);
  engine.run(500);  // equipartition: 2000 K of kinetic energy becomes about 1000 K
  Recorder recorder;
  engine.add_observer(recorder);
  engine.run(10000);
  const auto& s = recorder.samples;
  const int n = engine.state().natoms;
  // Least-squares slope of E_tot(t) over the 10 ps, times 10 ps.
  double st = 0, se = 0, stt = 0, ste = 0;
  for (const auto& sample : s) {
    st += sample.time;
    se += sample.total_energy;
    stt += sample.time * sample.time;
    ste += sample.time * sample.total_energy;
  }
  const double count = static_cast<double>(s.size());
  const double slope = (count * ste - st * se) / (count * stt - st * st);  // eV/fs
  const double fitted_drift = std::abs(slope) * (s.back().time - s.front().time) / n;
  // Mean over the last picosecond against the first: drift without the fluctuations.
  const double block_drift =
      std::abs(mean_of(s, &ThermoSample::total_energy, s.size() - 1000, s.size()) -
               mean_of(s, &ThermoSample::total_energy, 0, 1000)) /
      n;
  double largest = 0;
  for (const auto& sample : s)
    largest = std::max(largest, std::abs(sample.total_energy - s.front().total_energy) / n);
  const double temperature = mean_of(s, &ThermoSample::temperature, 0, s.size());
  INFO("fitted drift " << fitted_drift << " eV/atom, block drift " << block_drift
                       << " eV/atom, largest excursion " << largest << " eV/atom, mean T "
                       << temperature << " K");
  CHECK(temperature == Approx(1000.0).epsilon(0.05));
  CHECK(fitted_drift < 1e-4);
  CHECK(block_drift < 1e-4);
  CHECK(largest < 1e-4);
  double total_mass = 0;
  CHECK(total_momentum(engine.state(), &total_mass).norm() / total_mass < 1e-12);
}

TEST_CASE("NVT Langevin: canonical temperature and kinetic-energy variance over 20 ps",
          "[md][silicon][nvt]") {
  EngineSettings settings;
  settings.thermostat.type = ThermostatType::langevin;
  settings.thermostat.temperature = 1000.0;
  settings.thermostat.damping = 50.0;
  settings.seed = 21;
  Engine engine(start(silicon(), 21), make_potential(sw), settings);
  engine.run(1000);
  Recorder recorder;
  engine.add_observer(recorder);
  engine.run(20000);
  const Canonical c = canonical_check(recorder.samples, engine.state().natoms, 1000.0);
  INFO("<T>/T0 = " << c.temperature_ratio << ", var(K)/canonical = " << c.variance_ratio);
  CHECK(c.temperature_ratio == Approx(1.0).margin(0.02));
  CHECK(c.variance_ratio == Approx(1.0).margin(0.10));
}

TEST_CASE("NVT Nosé-Hoover chain: canonical temperature and kinetic-energy variance over 20 ps",
          "[md][silicon][nvt]") {
  // A Nosé–Hoover chain started far from equilibrium rings for tens of
  // picoseconds (LAMMPS's fix nvt does the same), so the atoms are first
  // brought to equilibrium with a Langevin thermostat; the chain then starts
  // at rest from a canonical state.
  AtomState state = start(silicon(), 5);
  {
    EngineSettings langevin;
    langevin.thermostat.type = ThermostatType::langevin;
    langevin.thermostat.temperature = 1000.0;
    langevin.thermostat.damping = 50.0;
    langevin.seed = 5;
    Engine equilibration(state, make_potential(sw), langevin);  // shares the views with `state`
    equilibration.run(2000);
  }
  EngineSettings settings;
  settings.thermostat.type = ThermostatType::nose_hoover_chain;
  settings.thermostat.temperature = 1000.0;
  settings.thermostat.damping = 100.0;
  Engine engine(state, make_potential(sw), settings);
  Recorder recorder;
  engine.add_observer(recorder);
  engine.run(20000);
  recorder.samples.erase(recorder.samples.begin());  // step 0, before the first step
  const Canonical c = canonical_check(recorder.samples, engine.state().natoms, 1000.0);
  INFO("<T>/T0 = " << c.temperature_ratio << ", var(K)/canonical = " << c.variance_ratio);
  CHECK(c.temperature_ratio == Approx(1.0).margin(0.02));
  CHECK(c.variance_ratio == Approx(1.0).margin(0.10));
  // The extended energy is conserved all along.
  double worst = 0;
  for (const auto& s : recorder.samples)
    worst = std::max(worst, std::abs(s.conserved - recorder.samples[0].conserved));
  CHECK(worst / engine.state().natoms < 1e-4);
}

namespace {

struct LammpsAverages {
  double volume = 0, pressure = 0, temperature = 0;  // Å³, GPa, K
};

// LAMMPS fix npt on the same crystal: `equilibration` steps, then averages
// over `production` steps.
LammpsAverages lammps_npt(double a, double pressure_gpa, double temperature, double tdamp_fs,
                          double pdamp_fs, long equilibration, long production, int seed) {
  TemporaryDirectory directory("otfgp-lammps-npt");
  std::ofstream input(directory / "in.lmp");
  input << "units metal\natom_style atomic\nboundary p p p\n"
        << "lattice diamond " << a
        << "\nregion box block 0 4 0 4 0 4\ncreate_box 1 box\ncreate_atoms 1 box\n"
        << "mass 1 28.085\npair_style sw\npair_coeff * * " << sw_file << " Si\n"
        << "neighbor 1.0 bin\nneigh_modify every 1 delay 0 check yes\n"
        << "velocity all create 2000 " << seed << " mom yes rot no dist gaussian\n"
        << "fix npt all npt temp " << temperature << " " << temperature << " " << tdamp_fs * 1e-3
        << " iso " << pressure_gpa * 1e4 << " " << pressure_gpa * 1e4 << " " << pdamp_fs * 1e-3
        << "\n"
        << "timestep 0.001\nthermo " << equilibration << "\nrun " << equilibration
        << "\nreset_timestep 0\n"
        << "variable v equal vol\n"
        << "fix averages all ave/time 1 " << production << " " << production
        << " v_v c_thermo_press c_thermo_temp\n"
        << "thermo_style custom step f_averages[1] f_averages[2] f_averages[3]\n"
        << "thermo_modify format float %.10g\nthermo " << production << "\nrun " << production
        << "\n";
  input.close();
  const std::string command = "cd '" + directory.path().string() +
                              "' && lmp -in in.lmp -log log.lammps -screen none > /dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream log(directory / "log.lammps");
  std::string line;
  LammpsAverages averages;
  bool found = false;
  while (std::getline(log, line)) {
    std::istringstream fields(line);
    long step;
    double v, p, t;
    if (fields >> step >> v >> p >> t && step == production) {
      averages = {v, p * 1e-4, t};
      found = true;
    }
  }
  REQUIRE(found);
  return averages;
}

}  // namespace

TEST_CASE("NPT at 10 GPa and 1000 K: target pressure, and the volume of LAMMPS's fix npt",
          "[md][silicon][npt][lammps]") {
  // Same set-up on both sides: 512 atoms from diamond at a = 5.29 Å (close to
  // the 10 GPa, 1000 K volume), 2000 K start, Nosé–Hoover chains on atoms
  // (Tdamp 100 fs) and cell (Pdamp 1000 fs), isotropic coupling, dt = 1 fs;
  // 3 ps of equilibration, averages over the next 12 ps.
  const double a = 5.29, pressure = 10.0, temperature = 1000.0;
  const long equilibration = 3000, production = 12000;
  EngineSettings settings;
  settings.thermostat.type = ThermostatType::nose_hoover_chain;
  settings.thermostat.temperature = temperature;
  settings.thermostat.damping = 100.0;
  settings.barostat.enabled = true;
  settings.barostat.pressure = pressure;
  settings.barostat.coupling = PressureCoupling::isotropic;
  settings.barostat.damping = 1000.0;
  Engine engine(start(silicon(a), 3), make_potential(sw), settings);
  engine.run(equilibration);
  const RunStatistics before = engine.statistics();
  engine.run(production);
  const RunStatistics& after = engine.statistics();
  const double samples = static_cast<double>(after.samples - before.samples);
  const double mean_volume = (after.sum_volume - before.sum_volume) / samples;
  const double mean_pressure = (after.sum_pressure - before.sum_pressure) / samples;
  const double mean_temperature = (after.sum_temperature - before.sum_temperature) / samples;

  const LammpsAverages lammps =
      lammps_npt(a, pressure, temperature, 100.0, 1000.0, equilibration, production, 3);
  INFO("otfgp: V = " << mean_volume << " Å³, P = " << mean_pressure
                     << " GPa, T = " << mean_temperature << " K; LAMMPS: V = " << lammps.volume
                     << " Å³, P = " << lammps.pressure << " GPa, T = " << lammps.temperature
                     << " K");
  CHECK(mean_pressure == Approx(pressure).margin(0.2));
  CHECK(mean_volume == Approx(lammps.volume).epsilon(0.005));
  CHECK(mean_temperature == Approx(temperature).epsilon(0.02));
  CHECK(lammps.pressure == Approx(pressure).margin(0.2));  // the reference itself is at the target
}

TEST_CASE("a silicon run stopped and restarted gives the uninterrupted trajectory",
          "[md][silicon][restart]") {
  TemporaryDirectory directory("otfgp-md-silicon-restart");
  auto config_for = [&](const std::string& output, long steps, bool resume) {
    const std::string text =
        "structure: {lattice: diamond, elements: [Si], a: 5.431, repeat: 4}\n"
        "potential: " +
        sw +
        "\nensemble: nvt\ntemperature: 1000\ninitial_temperature: 2000\nseed: 8\n"
        "thermostat: {type: nose-hoover-chain, damping: 100}\nsteps: " +
        std::to_string(steps) + "\n" +
        (resume ? "restart: " + (directory / "first/restart.h5").string() + "\n" : std::string()) +
        "output: {directory: " + (directory / output).string() +
        ", thermo_interval: 10, trajectory_interval: 50, restart_interval: 500}\n";
    return parse_run_config(text, output + ".yaml");
  };
  run(config_for("straight", 1000, false));
  run(config_for("first", 500, false));  // stops at step 500 with its restart
  run(config_for("first", 1000, true));  // continues into the same files
  auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  CHECK(read(directory / "first/trajectory.xyz") == read(directory / "straight/trajectory.xyz"));
  CHECK(read(directory / "first/thermo.dat") == read(directory / "straight/thermo.dat"));
  CHECK(read(directory / "first/trajectory.xyz").size() > 100000);
}
