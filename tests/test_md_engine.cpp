// The MD engine's parts on a Lennard-Jones argon crystal (fast): random
// numbers, initial velocities, conserved quantities of every ensemble, the cell
// under a triclinic barostat, exact restarts, and failures (overlapping atoms,
// forces that turn NaN).

#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <utility>

#include "otfgp/core/counter_random.hpp"
#include "otfgp/core/error.hpp"
#include "otfgp/core/extra_property.hpp"
#include "otfgp/core/lattice.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/gp/potential_registry.hpp"
#include "otfgp/md/engine.hpp"
#include "otfgp/md/restart.hpp"
#include "otfgp/potentials/evaluate.hpp"
#include "support/environment.hpp"
#include "support/repeatability.hpp"
#include "support/temporary_directory.hpp"

using namespace otfgp;
using namespace otfgp::md;
using otfgp::testing::TemporaryDirectory;

namespace {

const char* const argon = "lj:eps=0.0104,sigma=3.4,rc=7.5";

Structure argon_crystal(int repeat = 3) {
  return build_lattice({"fcc", {"Ar"}, 5.30, std::nullopt, {repeat, repeat, repeat}});
}

// Looks only at the step number, every step (as a progress line does), and
// stops the run after step `stop_after` (never when 0).
struct StepCounter final : StepObserver {
  long stop_after = 0;
  long calls = 0;
  long interval() const override { return 1; }
  bool reads_engine() const override { return false; }
  bool observe(Engine& engine) override {
    ++calls;
    return stop_after == 0 || engine.step() != stop_after;
  }
};

// Collects the thermo sample of every step.
struct Recorder final : StepObserver {
  std::vector<ThermoSample> samples;
  long interval() const override { return 1; }
  bool observe(Engine& engine) override {
    samples.push_back(engine.thermo());
    return true;
  }
};

double max_conserved_deviation(const std::vector<ThermoSample>& samples) {
  double worst = 0.0;
  for (const auto& s : samples)
    worst = std::max(worst, std::abs(s.conserved - samples.front().conserved));
  return worst;
}

Engine make_engine(const Structure& structure, const EngineSettings& settings, double temperature,
                   std::uint64_t seed) {
  AtomState state = AtomState::from_structure(structure);
  maxwell_boltzmann(state, temperature, seed);
  return Engine(std::move(state), make_potential(argon), settings);
}

EngineSettings nvt(ThermostatType type, double temperature = 60.0) {
  EngineSettings settings;
  settings.timestep = 4.0;
  settings.thermostat.type = type;
  settings.thermostat.temperature = temperature;
  settings.thermostat.damping = 200.0;
  settings.seed = 11;
  return settings;
}

EngineSettings npt(PressureCoupling coupling) {
  EngineSettings settings = nvt(ThermostatType::nose_hoover_chain);
  settings.barostat.enabled = true;
  settings.barostat.pressure = 0.2;
  settings.barostat.coupling = coupling;
  settings.barostat.damping = 1000.0;
  return settings;
}

Positions host_positions(const Engine& engine) {
  return engine.state().to_structure().positions;
}

}  // namespace

TEST_CASE("counter-based random numbers are a pure function of their counters", "[md][random]") {
  const CounterRandom a(42, RandomStream::langevin), b(42, RandomStream::langevin);
  const CounterRandom other_seed(43, RandomStream::langevin),
      other_stream(42, RandomStream::initial_velocities);
  CHECK(a.bits(7, 3, 1) == b.bits(7, 3, 1));
  CHECK(a.bits(7, 3, 1) != a.bits(7, 3, 2));
  CHECK(a.bits(7, 3, 1) != a.bits(8, 3, 1));
  CHECK(a.bits(7, 3, 1) != other_seed.bits(7, 3, 1));
  CHECK(a.bits(7, 3, 1) != other_stream.bits(7, 3, 1));
  // Moments and the tails of the normal deviates.
  double sum = 0, sum2 = 0, sum4 = 0;
  long beyond3 = 0;
  const long n = 200000;
  for (long atom = 0; atom < n / 3; ++atom) {
    double xi[3];
    a.normal3(5, atom, 0, xi);
    for (double x : xi) {
      sum += x;
      sum2 += x * x;
      sum4 += x * x * x * x;
      beyond3 += std::abs(x) > 3.0;
    }
  }
  const double count = 3.0 * (n / 3);
  CHECK(std::abs(sum / count) < 0.01);
  CHECK(sum2 / count == Approx(1.0).epsilon(0.01));
  CHECK(sum4 / count == Approx(3.0).epsilon(0.03));
  CHECK(beyond3 / count == Approx(0.0027).epsilon(0.15));
}

TEST_CASE("Maxwell-Boltzmann velocities: exact temperature, zero momentum, reproducible", "[md]") {
  const Structure crystal =
      build_lattice({"rocksalt", {"Na", "Cl"}, 5.64, std::nullopt, {3, 3, 3}});
  AtomState first = AtomState::from_structure(crystal), second = AtomState::from_structure(crystal),
            other = AtomState::from_structure(crystal);
  maxwell_boltzmann(first, 300.0, 5);
  maxwell_boltzmann(second, 300.0, 5);
  maxwell_boltzmann(other, 300.0, 6);
  const double dof = 3.0 * first.natoms - 3.0;
  CHECK(2.0 * kinetic_tensor(first).kinetic_energy() / (dof * units::boltzmann) ==
        Approx(300.0).epsilon(1e-12));
  double total_mass = 0;
  const Eigen::Vector3d p = total_momentum(first, &total_mass);
  CHECK(p.norm() / total_mass < 1e-14);
  auto v1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), first.v);
  auto v2 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), second.v);
  auto v3 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), other.v);
  bool same = true, differs = false;
  for (int i = 0; i < first.natoms; ++i)
    for (int d = 0; d < 3; ++d) {
      same = same && v1(i, d) == v2(i, d);
      differs = differs || v1(i, d) != v3(i, d);
    }
  CHECK(same);
  CHECK(differs);
  // Lighter atoms move faster: ⟨m v²⟩ is the same for both species.
  auto mass = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), first.mass);
  double mv2[2] = {0, 0};
  int count[2] = {0, 0};
  for (int i = 0; i < first.natoms; ++i) {
    const int s = mass(i) < 30 ? 0 : 1;
    mv2[s] += mass(i) * (v1(i, 0) * v1(i, 0) + v1(i, 1) * v1(i, 1) + v1(i, 2) * v1(i, 2));
    ++count[s];
  }
  CHECK(mv2[0] / count[0] == Approx(mv2[1] / count[1]).epsilon(0.25));
}

TEST_CASE("OTFGP_FENCE_PHASES is 1 or 0, anything else an error", "[md]") {
  const Structure crystal = argon_crystal();
  EngineSettings nve = nvt(ThermostatType::none);
  nve.thermostat = ThermostatSettings{};
  for (const auto& [value, fences] :
       {std::pair<const char*, bool>{"1", true}, {"0", false}, {"", false}}) {
    INFO(value);
    const otfgp::testing::ScopedEnvironment setting("OTFGP_FENCE_PHASES", value);
    CHECK(make_engine(crystal, nve, 120.0, 3).fence_phases() == fences);
  }
  for (const char* bad : {"true", "no", "off", "2", " 1"}) {
    INFO(bad);
    const otfgp::testing::ScopedEnvironment setting("OTFGP_FENCE_PHASES", bad);
    CHECK_THROWS_WITH(make_engine(crystal, nve, 120.0, 3),
                      Catch::Contains("OTFGP_FENCE_PHASES must be 1") && Catch::Contains(bad));
  }
  const otfgp::testing::ScopedEnvironment unset("OTFGP_FENCE_PHASES", std::nullopt);
  CHECK_FALSE(make_engine(crystal, nve, 120.0, 3).fence_phases());
}

TEST_CASE("every ensemble conserves its extended energy", "[md][conserved]") {
  const Structure crystal = argon_crystal();
  struct Case {
    const char* name;
    EngineSettings settings;
  };
  EngineSettings nve = nvt(ThermostatType::none);
  nve.thermostat = ThermostatSettings{};
  const std::vector<Case> cases = {
      {"nve", nve},
      {"nvt langevin", nvt(ThermostatType::langevin)},
      {"nvt nose-hoover-chain", nvt(ThermostatType::nose_hoover_chain)},
      {"npt isotropic", npt(PressureCoupling::isotropic)},
      {"npt anisotropic", npt(PressureCoupling::anisotropic)},
      {"npt triclinic", npt(PressureCoupling::triclinic)},
      // Langevin's half steps on the device with the barostat's on the host:
      // the heat in a device view, the barostat's energy beside it.
      {"npt langevin", [] {
         EngineSettings s = npt(PressureCoupling::anisotropic);
         s.thermostat.type = ThermostatType::langevin;
         return s;
       }()}};
  for (const auto& c : cases) {
    SECTION(c.name) {
      Engine engine = make_engine(crystal, c.settings, 120.0, 3);
      Recorder recorder;
      engine.add_observer(recorder);
      engine.run(1500);
      const double kinetic_scale = 0.5 * (3.0 * crystal.size() - 3.0) * units::boltzmann * 60.0;
      // The thermostats move a good fraction of the kinetic energy around; the
      // extended energy stays put to a small fraction of it.
      double spread = 0;
      for (const auto& s : recorder.samples)
        spread = std::max(spread, std::abs(s.total_energy - recorder.samples[0].total_energy));
      INFO("total-energy excursion " << spread << " eV, conserved deviation "
                                     << max_conserved_deviation(recorder.samples));
      CHECK(max_conserved_deviation(recorder.samples) < 2e-3 * kinetic_scale);
      // The run statistics, summed on the device from the host's and the
      // device's shares of the extended energy, see the same conserved quantity.
      const RunStatistics& statistics = engine.statistics();
      CHECK(statistics.last_conserved == Approx(engine.thermo().conserved).epsilon(1e-12));
      CHECK(statistics.max_conserved_deviation < 2e-3 * kinetic_scale);
      // The thermostat really moved energy: far more than the conserved quantity wanders.
      if (c.settings.thermostat.type != ThermostatType::none)
        CHECK(spread > 50 * max_conserved_deviation(recorder.samples));
    }
  }
}

TEST_CASE("the triclinic barostat deforms a skewed cell without rotating it", "[md][npt]") {
  Structure crystal = argon_crystal();
  Eigen::Matrix3d shear = Eigen::Matrix3d::Identity();
  shear(1, 0) = 0.08;  // b gets an x component: a skewed cell
  crystal.cell = crystal.cell * shear;
  crystal.positions = crystal.positions * shear;
  Engine engine = make_engine(crystal, npt(PressureCoupling::triclinic), 60.0, 4);
  engine.run(200);
  // Each step stretches the cell by a symmetric matrix E (h ← h·E): no rotation.
  const Eigen::Matrix3d before = engine.state().box.cell();
  engine.run(1);
  const Eigen::Matrix3d strain = before.inverse() * engine.state().box.cell();
  CHECK((strain - strain.transpose()).norm() < 1e-14);
  CHECK((strain - Eigen::Matrix3d::Identity()).norm() > 1e-7);
  engine.run(1799);
  const Eigen::Matrix3d after = engine.state().box.cell();
  // The shear stress is driven towards zero: the cell relaxes the imposed skew.
  INFO("skew b_x/b_y " << after(1, 0) / after(1, 1) << ", mean pressure "
                       << engine.statistics().mean_pressure() << " GPa");
  CHECK(std::abs(after(1, 0) / after(1, 1)) < 0.06);
  // And the pressure settles at the target over the run.
  CHECK(engine.statistics().mean_pressure() == Approx(0.2).margin(0.03));
}

TEST_CASE("a run resumed from restart data follows the uninterrupted one bit for bit",
          "[md][restart]") {
  const Structure crystal = argon_crystal();
  for (const auto& [name, settings] : std::vector<std::pair<std::string, EngineSettings>>{
           {"langevin npt",
            [] {
              EngineSettings s = npt(PressureCoupling::triclinic);
              s.thermostat.type = ThermostatType::langevin;
              return s;
            }()},
           {"nose-hoover-chain npt", npt(PressureCoupling::anisotropic)},
           {"langevin nvt", nvt(ThermostatType::langevin, 80.0)},
           {"nve", [] {
              EngineSettings s;
              s.timestep = 4.0;
              return s;
            }()}}) {
    SECTION(name) {
      TemporaryDirectory directory("otfgp-md-restart");
      Engine straight = make_engine(crystal, settings, 80.0, 9);
      straight.run(300);
      const RestartData middle = straight.restart_data();
      write_restart_file(directory / "restart.h5", middle);
      straight.reseat();  // what writing a restart does inside a run
      straight.run(300);

      const RestartData loaded = read_restart_file(directory / "restart.h5");
      CHECK(loaded.step == 300);
      CHECK(loaded.integrator == middle.integrator);
      CHECK(loaded.velocities == middle.velocities);
      AtomState state = AtomState::from_structure(loaded.structure);
      Engine resumed(std::move(state), make_potential(argon), settings);
      resumed.restore(loaded);
      resumed.run_until(600);
      CHECK(resumed.step() == 600);
      // Bit for bit on Serial; to rounding where threads reorder sums (support/repeatability.hpp).
      CHECK(testing::repeats(host_positions(resumed), host_positions(straight)));
      CHECK(testing::repeats(resumed.state().box.cell(), straight.state().box.cell()));
      CHECK(testing::repeats(resumed.thermo().conserved, straight.thermo().conserved));
      CHECK(testing::repeats(resumed.statistics().to_vector(), straight.statistics().to_vector()));
    }
  }
}

namespace {

// Lennard-Jones whose forces (or energy) turn NaN on a chosen call: a potential
// that fails mid-run. Its energy goes where the request asks (the device when
// the MD engine asks), and so does the NaN.
class FailingPotential final : public Potential {
 public:
  // force: NaN on atom index 5 (atom 6 in messages, which count from 1); energy: a NaN energy;
  // huge: a finite force of `size` eV/Å on that atom (for runs whose force limit lets it through).
  enum class Poison { force, energy, huge };
  explicit FailingPotential(int failing_call, Poison poison = Poison::force, double size = 0.0)
      : inner_(make_potential(argon)), failing_call_(failing_call), poison_(poison), size_(size) {}
  std::string spec() const override { return "failing"; }
  double cutoff() const override { return inner_->cutoff(); }
  std::vector<int> elements() const override { return {}; }
  void bind(const std::vector<int>& species) override { inner_->bind(species); }
  ComputeResult compute(AtomState& state, const NeighborList& list,
                        const ComputeRequest& request) override {
    ComputeResult result = inner_->compute(state, list, request);
    if (++calls_ != failing_call_) return result;
    const double nan = std::nan("");
    if (poison_ != Poison::energy) {
      const auto f = state.f;
      const double value = poison_ == Poison::force ? nan : size_;
      Kokkos::parallel_for(
          "FailingPotential::poison", RangePolicy(5, 6), KOKKOS_LAMBDA(int i) { f(i, 1) = value; });
    } else if (result.totals_on_device) {
      const EnergyVirialView totals = request.totals;
      Kokkos::parallel_for(
          "FailingPotential::poison", RangePolicy(0, 1),
          KOKKOS_LAMBDA(int) { totals().energy = nan; });
    } else {
      result.energy = nan;
    }
    return result;
  }

 private:
  std::unique_ptr<Potential> inner_;
  int failing_call_;
  Poison poison_;
  double size_;
  int calls_ = 0;
};

}  // namespace

TEST_CASE("NaN forces stop the run at the last good step and keep its frame", "[md][failure]") {
  // In every ensemble, observed or not, the run stops at the last good step.
  const ThermostatType type =
      GENERATE(ThermostatType::langevin, ThermostatType::none, ThermostatType::nose_hoover_chain);
  // 0: no observer; 1: one that reads every step; 2: one that only counts
  // steps and stops the run after the failed one.
  const int observed = GENERATE(0, 1, 2);
  EngineSettings settings = nvt(type);
  if (type == ThermostatType::none) settings.thermostat = ThermostatSettings{};
  INFO("thermostat " << type.name() << ", observer " << observed);
  AtomState state = AtomState::from_structure(argon_crystal());
  maxwell_boltzmann(state, 60.0, 2);
  // Call 1 is the set-up; call 21 is step 20.
  Engine engine(std::move(state), std::make_shared<FailingPotential>(21), settings);
  Recorder recorder;
  if (observed == 1) engine.add_observer(recorder);
  StepCounter counter;
  counter.stop_after = 20;
  if (observed == 2) engine.add_observer(counter);
  Engine reference = make_engine(argon_crystal(), settings, 60.0, 2);
  reference.run(19);
  REQUIRE_THROWS_WITH(engine.run(100), Catch::Contains("step 20") && Catch::Contains("atom 6") &&
                                           Catch::Contains("not finite") &&
                                           Catch::Contains("last good step 19"));
  REQUIRE(engine.last_good_frame());
  const Structure& frame = *engine.last_good_frame();
  CHECK(frame.info_value("step") == std::optional<std::string>("19"));
  CHECK(frame.forces->allFinite());
  CHECK(engine.step() == 19);
  CHECK(testing::repeats(frame.positions, host_positions(reference)));
  CHECK(testing::repeats(*frame.forces, *reference.frame().forces));
  CHECK(testing::repeats(real_property(frame, "momenta"),
                         real_property(reference.frame(), "momenta")));
  CHECK(testing::repeats(*frame.energy, reference.thermo().potential_energy));
  // The failed step is not in the run's statistics.
  CHECK(engine.statistics().samples == 19);
  CHECK(testing::repeats(engine.statistics().to_vector(), reference.statistics().to_vector()));
  if (observed == 1) CHECK(recorder.samples.size() == 20);  // steps 0 to 19
}

TEST_CASE("a potential energy that turns NaN stops the run at the last good step",
          "[md][failure]") {
  const ThermostatType type = GENERATE(ThermostatType::none, ThermostatType::langevin);
  EngineSettings settings = nvt(type);
  if (type == ThermostatType::none) settings.thermostat = ThermostatSettings{};
  AtomState state = AtomState::from_structure(argon_crystal());
  maxwell_boltzmann(state, 60.0, 2);
  Engine engine(std::move(state),
                std::make_shared<FailingPotential>(11, FailingPotential::Poison::energy), settings);
  Engine reference = make_engine(argon_crystal(), settings, 60.0, 2);
  reference.run(9);
  REQUIRE_THROWS_WITH(engine.run(100), Catch::Contains("step 10") &&
                                           Catch::Contains("potential energy is not finite") &&
                                           Catch::Contains("last good step 9"));
  CHECK(engine.step() == 9);
  CHECK(testing::repeats(host_positions(engine), host_positions(reference)));
  CHECK(testing::repeats(engine.thermo().potential_energy, reference.thermo().potential_energy));
  CHECK(testing::repeats(engine.statistics().to_vector(), reference.statistics().to_vector()));
}

TEST_CASE("forces or thermostat variables that overflow stop the run at the last good step",
          "[md][failure]") {
  // With the force limit lifted (checks.max_force 1e300), a finite force of
  // 1e200 eV/Å, whose square overflows, is caught at its step in every
  // ensemble. One of 1e140 keeps every square finite (m v² ≈ 1e276 eV) but
  // drives the Nosé–Hoover chain's variables to ∞: caught at the end of the
  // same step, before NaN velocities could become the last good state.
  struct Case {
    ThermostatType type;
    double force;
    const char* problem;
  };
  const Case c = GENERATE(
      Case{ThermostatType::none, 1e200, "atom 6 is 1e+200 eV/Å, too large"},
      Case{ThermostatType::langevin, 1e200, "atom 6 is 1e+200 eV/Å, too large"},
      Case{ThermostatType::nose_hoover_chain, 1e200, "atom 6 is 1e+200 eV/Å, too large"},
      Case{ThermostatType::nose_hoover_chain, 1e140, "thermostat's or barostat's variables"});
  EngineSettings settings = nvt(c.type);
  if (c.type == ThermostatType::none) settings.thermostat = ThermostatSettings{};
  settings.max_force = 1e300;
  INFO("thermostat " << c.type.name() << ", force " << c.force);
  AtomState state = AtomState::from_structure(argon_crystal());
  maxwell_boltzmann(state, 60.0, 2);
  Engine engine(std::move(state),
                std::make_shared<FailingPotential>(21, FailingPotential::Poison::huge, c.force),
                settings);
  Engine reference = make_engine(argon_crystal(), settings, 60.0, 2);
  reference.run(19);
  REQUIRE_THROWS_WITH(engine.run(100), Catch::Contains("step 20") && Catch::Contains(c.problem) &&
                                           Catch::Contains("last good step 19"));
  REQUIRE(engine.last_good_frame());
  const Structure& frame = *engine.last_good_frame();
  CHECK(real_property(frame, "momenta").allFinite());
  CHECK(testing::repeats(real_property(frame, "momenta"),
                         real_property(reference.frame(), "momenta")));
  CHECK(std::isfinite(engine.thermo().temperature));
  CHECK(engine.statistics().samples == 19);
}

TEST_CASE("forces above the limit stop the run", "[md][failure]") {
  EngineSettings settings = nvt(ThermostatType::none);
  settings.thermostat = ThermostatSettings{};
  settings.timestep = 40.0;  // far too long for argon at 700 K: atoms run into each other
  settings.max_force = 5.0;
  Engine limited = make_engine(argon_crystal(), settings, 700.0, 1);
  REQUIRE_THROWS_WITH(limited.run(2000), Catch::Contains("above the limit of 5 eV/Å"));
  REQUIRE(limited.last_good_frame());
  CHECK(limited.last_good_frame()->forces->rowwise().norm().maxCoeff() <= 5.0);
  CHECK(limited.step() > 0);
  CHECK(limited.last_good_frame()->info_value("step") ==
        std::optional<std::string>(std::to_string(limited.step())));
}

TEST_CASE("overlapping atoms are refused before any step", "[md][failure]") {
  Structure crystal = argon_crystal(2);
  crystal.positions.row(7) = crystal.positions.row(3) + Eigen::RowVector3d(0.3, 0.2, 0.0);
  AtomState state = AtomState::from_structure(crystal);
  Engine engine(std::move(state), make_potential(argon), nvt(ThermostatType::langevin));
  REQUIRE_THROWS_WITH(engine.run(10),
                      Catch::Contains("atoms 4 (Ar) and 8 (Ar) are 0.361 Å apart") &&
                          Catch::Contains("covalent radii"));
  EngineSettings strict = nvt(ThermostatType::langevin);
  strict.min_distance = 4.0;  // the crystal's own 3.75 Å neighbours are too close now
  Engine refusing(AtomState::from_structure(argon_crystal(2)), make_potential(argon), strict);
  REQUIRE_THROWS_WITH(refusing.run(10),
                      Catch::Contains("3.748 Å apart") && Catch::Contains("minimum of 4.000 Å"));
}

TEST_CASE("observers see the steps they ask for and can stop the run", "[md]") {
  struct Stopper final : StepObserver {
    std::vector<long> seen;
    long interval() const override { return 7; }
    bool observe(Engine& engine) override {
      seen.push_back(engine.step());
      return engine.step() < 21;
    }
  } stopper;
  Engine engine = make_engine(argon_crystal(2), nvt(ThermostatType::nose_hoover_chain), 60.0, 1);
  engine.add_observer(stopper);
  CHECK(engine.run(100) == 21);
  CHECK(stopper.seen == std::vector<long>{0, 7, 14, 21});
  // The on-the-fly loop's pattern: swap the potential and carry on from the same state.
  engine.remove_observer(stopper);
  engine.set_potential(make_potential("lj:eps=0.0104,sigma=3.4,rc=6.0"));
  engine.set_compute_request({true, false}, 5);
  engine.run(4);
  CHECK(engine.step() == 25);
  REQUIRE(engine.last_compute().per_atom_energy.extent(0) ==
          static_cast<std::size_t>(engine.state().natoms));
  CHECK(engine.neighbor_list()->cutoff() == 6.0);
}

TEST_CASE("a potential swapped inside observe() drives the very next step", "[md]") {
  // The on-the-fly loop retrains inside an observer and keeps running: the
  // step after the swap must already use the new potential's forces.
  struct Swapper final : StepObserver {
    std::vector<Structure> frames;
    long interval() const override { return 1; }
    bool observe(Engine& engine) override {
      if (engine.step() == 5) engine.set_potential(make_potential("lj:eps=0.02,sigma=3.2,rc=6.0"));
      if (engine.step() == 6) frames.push_back(engine.frame());
      return true;
    }
  } swapper;
  Engine engine = make_engine(argon_crystal(2), nvt(ThermostatType::langevin), 60.0, 3);
  engine.add_observer(swapper);
  engine.run(10);
  REQUIRE(swapper.frames.size() == 1);
  const Structure& frame = swapper.frames.front();
  const Evaluation fresh = evaluate(*make_potential("lj:eps=0.02,sigma=3.2,rc=6.0"), frame);
  const Evaluation old = evaluate(*make_potential(argon), frame);
  CHECK((*frame.forces - fresh.forces).cwiseAbs().maxCoeff() < 1e-10);
  CHECK((*frame.forces - old.forces).cwiseAbs().maxCoeff() > 1e-3);
  CHECK(std::abs(*frame.energy - fresh.energy) < 1e-10);
  CHECK(engine.neighbor_list()->cutoff() == 6.0);
}

TEST_CASE("scaling the velocities scales the kinetic energy, and the run goes on from them",
          "[md]") {
  // The on-the-fly loop keeps the total energy across a model update this way.
  Engine engine = make_engine(argon_crystal(2), nvt(ThermostatType::nose_hoover_chain), 60.0, 3);
  engine.run(5);
  const ThermoSample before = engine.thermo();
  // A copy (a host backend's mirror of a host view is the view itself).
  const auto v_before = Kokkos::create_mirror(Kokkos::HostSpace(), engine.state().v);
  Kokkos::deep_copy(v_before, engine.state().v);
  engine.scale_velocities(0.5);
  const ThermoSample after = engine.thermo();
  const auto v_after = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), engine.state().v);
  for (int i = 0; i < engine.state().natoms; ++i)
    for (int d = 0; d < 3; ++d) CHECK(v_after(i, d) == 0.5 * v_before(i, d));
  CHECK(after.kinetic_energy == Approx(0.25 * before.kinetic_energy).epsilon(1e-14));
  CHECK(after.temperature == Approx(0.25 * before.temperature).epsilon(1e-14));
  CHECK(after.potential_energy == before.potential_energy);
  // The conserved quantity drops by the kinetic energy taken, and holds from there.
  CHECK(after.conserved == Approx(before.conserved - 0.75 * before.kinetic_energy).epsilon(1e-12));
  engine.run(200);
  CHECK(engine.thermo().conserved == Approx(after.conserved).epsilon(1e-4));
}

namespace {

// What Kokkos Tools report while a KokkosEvents object lives: view
// allocations, parallel_reduce launches by label, deep copies, and (Kokkos 4,
// whose every backend reports its fences) the fences a reduction into a host
// value makes: on a GPU each of those, and each copy to the host, is a wait
// for the device.
int kokkos_allocations = 0;
int kokkos_copies = 0;
int kokkos_value_fences = 0;
std::map<std::string, int> kokkos_reductions;

void count_allocation(Kokkos::Profiling::SpaceHandle, const char*, const void*, std::uint64_t) {
  ++kokkos_allocations;
}
void count_reduction(const char* name, std::uint32_t, std::uint64_t* id) {
  ++kokkos_reductions[name];
  *id = 0;
}
// Copies between views (a fill of a view with a value has no source view).
void count_copy(Kokkos::Profiling::SpaceHandle, const char*, const void*,
                Kokkos::Profiling::SpaceHandle, const char* source, const void*, std::uint64_t) {
  const std::string from = source;
  if (from != "Scalar" && from != "(none)") ++kokkos_copies;
}
void count_fence(const char* name, std::uint32_t, std::uint64_t* id) {
  if (std::string(name).find("result being value") != std::string::npos) ++kokkos_value_fences;
  *id = 0;
}

struct KokkosEvents {
  KokkosEvents() {
    kokkos_allocations = kokkos_copies = kokkos_value_fences = 0;
    kokkos_reductions.clear();
    Kokkos::Tools::Experimental::set_allocate_data_callback(count_allocation);
    Kokkos::Tools::Experimental::set_begin_parallel_reduce_callback(count_reduction);
    Kokkos::Tools::Experimental::set_begin_deep_copy_callback(count_copy);
    Kokkos::Tools::Experimental::set_begin_fence_callback(count_fence);
  }
  ~KokkosEvents() {
    Kokkos::Tools::Experimental::set_allocate_data_callback(nullptr);
    Kokkos::Tools::Experimental::set_begin_parallel_reduce_callback(nullptr);
    Kokkos::Tools::Experimental::set_begin_deep_copy_callback(nullptr);
    Kokkos::Tools::Experimental::set_begin_fence_callback(nullptr);
  }
  KokkosEvents(const KokkosEvents&) = delete;
  KokkosEvents& operator=(const KokkosEvents&) = delete;
};

}  // namespace

TEST_CASE("an MD step allocates nothing and waits for the device only where it must", "[md]") {
  // Stillinger–Weber silicon: a many-body potential with a force scatter and
  // per-atom scratch. Every step reduces the potential's energy and virial
  // and the second half-step's kinetic tensor and force check into device
  // views (no wait), and adds the step to the run statistics on the device.
  // What does go to the host, per step:
  //  - the copy of the kinetic tensor and force check after the second
  //    half-step, which brings the potential's energy and virial with it: the
  //    check is made at once (a failed step stops the run at the last good
  //    one), the chain's half step needs the kinetic energy, the barostat the
  //    kinetic tensor and the virial;
  //  - the neighbour list's displacement check (the host decides whether to
  //    rebuild), except in NVE, where the next step's drift is known at the
  //    end of this one and the second half-step measures it in its reduction.
  // Langevin's momentum and kinetic sums at each end of the step go to device
  // views (its momentum fix and heat are made there). An observer that looks
  // only at the step number (the progress line) changes none of this.
  struct Case {
    const char* name;
    EngineSettings settings;
    int host_reductions;  // per step, the neighbour check included
    int copies_per_step;
    int copies_per_run;
    std::map<std::string, int> on_device;  // reductions into device views, per step
  };
  EngineSettings nve;
  nve.neighbor_skin = 2.0;  // no rebuild in the window counted
  EngineSettings langevin = nvt(ThermostatType::langevin, 300.0);
  langevin.neighbor_skin = 2.0;
  EngineSettings chain = nvt(ThermostatType::nose_hoover_chain, 300.0);
  chain.neighbor_skin = 2.0;
  // Either form of the many-body loop (OTFGP_MANYBODY_FORM; its kernel's label).
  for (const auto& [form, kernel] :
       {std::pair<std::string, std::string>{"rows", "StillingerWeber::compute"},
        {"short", "StillingerWeber::compute_short"}}) {
    const otfgp::testing::ScopedEnvironment setting("OTFGP_MANYBODY_FORM", form);
    const std::map<std::string, int> step = {{kernel, 1}, {"VelocityVerlet::second_half", 1}};
    std::map<std::string, int> langevin_step = step;
    langevin_step["LangevinThermostat::half_step"] = 2;
    langevin_step["LangevinThermostat::remove_momentum"] = 2;
    EngineSettings npt_langevin = langevin;
    npt_langevin.barostat.enabled = true;
    npt_langevin.barostat.pressure = 0.2;
    EngineSettings npt_chain = chain;
    npt_chain.barostat = npt_langevin.barostat;
    for (const Case& c :
         {Case{"nve", nve, 0, 1, 0, step}, Case{"nvt langevin", langevin, 1, 1, 0, langevin_step},
          Case{"nvt nose-hoover-chain", chain, 1, 1, 0, step},
          // With a barostat, which moves the cell and reads the kinetic tensor
          // and the virial every step: the moved cell's image vectors go to the
          // device (a copy, no wait); with Langevin, whose first half step
          // comes before the barostat's, its kinetic tensor comes back (a wait).
          Case{"npt nose-hoover-chain", npt_chain, 1, 2, 0, step},
          Case{"npt langevin", npt_langevin, 1, 3, 0, langevin_step}}) {
      INFO(c.name << ", " << form);
      AtomState state = AtomState::from_structure(
          build_lattice({"diamond", {"Si"}, 5.431, std::nullopt, {3, 3, 3}}));
      maxwell_boltzmann(state, 300.0, 11);
      Engine engine(std::move(state), make_potential("sw:Si.sw"), c.settings);
      StepCounter progress;  // as `otfgp md`'s progress line: adds no wait
      engine.add_observer(progress);
      engine.run(3);  // first steps size the scratch, the scatter and the snapshots
      const int builds = engine.neighbor_list()->num_builds();
      const int steps = 10;
      {
        KokkosEvents events;
        engine.run(steps);
        CHECK(kokkos_allocations == 0);
        int host = 0;
        for (const auto& [label, count] : kokkos_reductions) {
          INFO(label << " " << count);
          const auto device = c.on_device.find(label);
          if (device != c.on_device.end())
            CHECK(count == device->second * steps);
          else
            host += count;
        }
        for (const auto& [label, per_step] : c.on_device)
          CHECK(kokkos_reductions[label] == per_step * steps);
        CHECK(host == c.host_reductions * steps);
        CHECK(kokkos_copies == c.copies_per_step * steps + c.copies_per_run);
#if KOKKOS_VERSION >= 40000
        // Every reduction the test counts as a host one fences for its value; no other does.
        CHECK(kokkos_value_fences == host);
#endif
      }
      REQUIRE(engine.neighbor_list()->num_builds() == builds);
      // Reading the engine copies what it needs and agrees with a fresh evaluation.
      const Structure frame = engine.frame();
      const Evaluation fresh = evaluate(*make_potential("sw:Si.sw"), frame);
      CHECK(std::abs(*frame.energy - fresh.energy) < 1e-9);
      CHECK(std::abs(engine.thermo().potential_energy - fresh.energy) < 1e-9);
      CHECK(engine.statistics().samples == 3 + steps);
      CHECK(progress.calls == 1 + 3 + steps);
    }
  }
}
