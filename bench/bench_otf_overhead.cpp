// The on-the-fly loop's MD overhead apart from the oracle: the same NVT run on
// a trained GP model (mapped), plain, with the per-atom uncertainty every 10
// steps, and every step (as `otf.check_interval` 10 and 1 ask), each timed over
// the whole time-step loop. Prints one line per variant and the ratios.
//
//   bench_otf_overhead MODEL.h5 [--cells 3] [--steps 500] [--temperature 1000]
//                      [--variance-rank R] [--variance-form automatic|rows|products|quadratic]
//
// --variance-rank: terms of the per-atom variance (MappedGp::variance_rank;
// 0 exact; default the model default). The truncation's bound is printed.
// --variance-form: how the variance is evaluated (GpPotential::VarianceForm).
//
// MODEL.h5: a Si model, e.g. examples/quickstart/out/otf/model.h5.

#include <chrono>
#include <cstdio>
#include <string>

#include "otfgp/core/error.hpp"
#include "otfgp/core/lattice.hpp"
#include "otfgp/gp/gp_potential.hpp"
#include "otfgp/gp/model_file.hpp"
#include "otfgp/md/engine.hpp"

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_otf_overhead MODEL.h5 [--cells N] [--steps N]\n");
    return 2;
  }
  const std::string model = argv[1];
  int cells = 3;
  long steps = 500;
  double temperature = 1000.0;
  int variance_rank = otfgp::MappedGp::default_variance_rank;
  using Form = otfgp::GpPotential::VarianceForm;
  Form form = Form::automatic;
  for (int k = 2; k + 1 < argc; k += 2) {
    const std::string key = argv[k];
    if (key == "--cells") cells = std::stoi(argv[k + 1]);
    if (key == "--steps") steps = std::stol(argv[k + 1]);
    if (key == "--temperature") temperature = std::stod(argv[k + 1]);
    if (key == "--variance-rank") variance_rank = std::stoi(argv[k + 1]);
    if (key == "--variance-form") {
      const std::string name = argv[k + 1];
      if (name == "rows")
        form = Form::rows;
      else if (name == "products")
        form = Form::products;
      else if (name == "quadratic")
        form = Form::quadratic;
      else if (name != "automatic") {
        std::fprintf(stderr, "bench_otf_overhead: unknown variance form '%s'\n", name.c_str());
        return 2;
      }
    }
  }
  try {
    otfgp::MappedGp mapped = otfgp::load_mapped_gp(model);
    mapped.variance_rank = variance_rank;
    {
      const auto start = std::chrono::steady_clock::now();
      otfgp::GpPotential potential(mapped);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (const auto& t : potential.variance_truncation())
        std::printf(
            "variance factor: %d of %d terms, bound %.3g eV², mean at sparse points "
            "%.3g eV², set up in %.2f s\n",
            static_cast<int>(t.factor.rows()), t.full_rank, t.max_error, t.mean_error, seconds);
    }
    int sparse = 0;
    for (const auto& s : mapped.sparse_normalised) sparse += static_cast<int>(s.rows());
    const otfgp::Structure crystal =
        otfgp::build_lattice({"diamond", {"Si"}, 5.431, std::nullopt, {cells, cells, cells}});
    double plain_rate = 0.0;
    for (long interval : {0L, 10L, 1L}) {
      otfgp::md::EngineSettings settings;
      settings.thermostat.type = otfgp::md::ThermostatType::langevin;
      settings.thermostat.temperature = temperature;
      otfgp::AtomState state = otfgp::AtomState::from_structure(crystal);
      otfgp::md::maxwell_boltzmann(state, temperature, 7);
      auto potential = std::make_unique<otfgp::GpPotential>(mapped, "gp:" + model);
      potential->set_variance_form(form);
      otfgp::md::Engine engine(std::move(state), std::move(potential), settings);
      if (interval > 0) engine.set_compute_request({false, true}, interval);
      engine.setup();
      const auto start = std::chrono::steady_clock::now();
      engine.run(steps);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double rate = steps * static_cast<double>(crystal.size()) / seconds;
      if (interval == 0) plain_rate = rate;
      std::printf("%-28s atoms=%d M=%d steps=%ld seconds=%.3f atom_steps_per_s=%.4g ratio=%.3f\n",
                  interval == 0 ? "plain mapped MD"
                                : (std::string("uncertainty every ") + std::to_string(interval) +
                                   (interval == 1 ? " step" : " steps"))
                                      .c_str(),
                  crystal.size(), sparse, steps, seconds, rate, rate / plain_rate);
    }
  } catch (const otfgp::Error& error) {
    std::fprintf(stderr, "bench_otf_overhead: %s\n", error.what());
    return 1;
  }
  return 0;
}
