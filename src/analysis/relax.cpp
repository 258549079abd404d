#include "otfgp/analysis/relax.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <deque>
#include <fstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/output_file.hpp"
#include "otfgp/core/target_pressure.hpp"
#include "otfgp/core/units.hpp"
#include "otfgp/potentials/evaluate.hpp"

namespace otfgp {

// The relaxation's internal types, named (not file-internal) because
// Relaxer::State, declared in the header, holds them as members.
namespace relax_steps {

// One evaluated point of the optimisation.
struct Point {
  Eigen::VectorXd x;         // generalised coordinates
  Eigen::VectorXd gradient;  // ∂H/∂x
  RelaxStep report;          // energy, enthalpy, forces, stress; structure set by the owner
  Structure structure;
};

Eigen::Matrix3d stress_matrix(const Voigt& voigt) {
  Eigen::Matrix3d sigma;
  sigma << voigt[0], voigt[5], voigt[4], voigt[5], voigt[1], voigt[3], voigt[4], voigt[3], voigt[2];
  return sigma;
}

// H(x) and its gradient for x = [r₀ (3N), N·F (9, free cell only)].
class Objective {
 public:
  Objective(Potential& potential, const Structure& start, const RelaxOptions& options)
      : potential_(&potential),
        start_(start),
        options_(options),
        atoms_(start.size()),
        pressure_(options.pressure_gpa * units::gpa_in_ev_per_a3),
        cell_factor_(std::max(1, start.size())) {
    request_.uncertainty = potential.provides_uncertainty();
  }

  int size() const { return 3 * atoms_ + (options_.relax_cell ? 9 : 0); }
  const Structure& start() const { return start_; }
  void bind() { potential_->bind(start_.species()); }

  Eigen::VectorXd initial() const {
    Eigen::VectorXd x(size());
    for (int i = 0; i < atoms_; ++i)
      for (int d = 0; d < 3; ++d) x[3 * i + d] = start_.positions(i, d);
    if (options_.relax_cell)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) x[3 * atoms_ + 3 * a + b] = cell_factor_ * (a == b ? 1.0 : 0.0);
    return x;
  }

  // Needs the potential bound to the species (bind()).
  Point evaluate(const Eigen::VectorXd& x) const {
    Point point;
    point.x = x;
    Eigen::Matrix3d deformation = Eigen::Matrix3d::Identity();
    if (options_.relax_cell)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) deformation(a, b) = x[3 * atoms_ + 3 * a + b] / cell_factor_;
    point.structure = start_;
    point.structure.cell = start_.cell * deformation.transpose();
    Positions reference(atoms_, 3);
    for (int i = 0; i < atoms_; ++i)
      for (int d = 0; d < 3; ++d) reference(i, d) = x[3 * i + d];
    point.structure.positions = reference * deformation.transpose();

    const Evaluation evaluation = evaluate_bound(*potential_, point.structure, request_);
    attach_labels(point.structure, evaluation);
    if (!std::isfinite(evaluation.energy))
      throw Error(
          "relax: the potential returned a non-finite energy (atoms too close, or the cell "
          "collapsed)");
    const bool periodic = evaluation.stress.has_value();
    const double volume = periodic ? point.structure.volume() : 0.0;
    RelaxStep& report = point.report;
    report.energy = evaluation.energy;
    report.enthalpy = evaluation.energy + pressure_ * volume;
    report.volume = volume;

    point.gradient.resize(size());
    const Positions generalised = evaluation.forces * deformation;
    double force_sum = 0.0;
    for (int i = 0; i < atoms_; ++i) {
      const double norm = evaluation.forces.row(i).norm();
      report.max_force = std::max(report.max_force, norm);
      force_sum += norm;
      for (int d = 0; d < 3; ++d) point.gradient[3 * i + d] = -generalised(i, d);
    }
    report.mean_force = force_sum / std::max(1, atoms_);
    if (periodic) {
      const Voigt& sigma = *evaluation.stress;
      report.pressure = -(sigma[0] + sigma[1] + sigma[2]) / 3.0 * units::ev_per_a3_in_gpa;
      double raw = 0.0, deviation = 0.0;
      for (int k = 0; k < 6; ++k) {
        raw += std::abs(sigma[k]);
        deviation += std::abs(sigma[k] + (k < 3 ? pressure_ : 0.0));
      }
      report.mean_stress = raw / 6.0 * units::ev_per_a3_in_gpa;
      report.mean_stress_deviation = deviation / 6.0 * units::ev_per_a3_in_gpa;
    }
    report.extrapolation = extrapolation_of(evaluation, potential_->force_noise());
    if (report.extrapolation) report.mean_uncertainty = evaluation.uncertainty->mean();
    if (options_.relax_cell) {
      const Eigen::Matrix3d deviation =
          stress_matrix(*evaluation.stress) + pressure_ * Eigen::Matrix3d::Identity();
      report.max_stress_deviation = deviation.cwiseAbs().maxCoeff() * units::ev_per_a3_in_gpa;
      const Eigen::Matrix3d cell_gradient =
          volume * deviation * deformation.inverse().transpose() / cell_factor_;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) point.gradient[3 * atoms_ + 3 * a + b] = cell_gradient(a, b);
    }
    return point;
  }

  bool converged(const Point& point) const {
    return point.report.max_force < options_.force_tolerance &&
           (!options_.relax_cell || point.report.max_stress_deviation < options_.stress_tolerance);
  }

  // Largest Euclidean length over the rows of three (one atom, one row of N·F).
  double largest_move(const Eigen::VectorXd& step) const {
    double largest = 0.0;
    for (int row = 0; row < step.size() / 3; ++row)
      largest = std::max(largest, step.segment<3>(3 * row).norm());
    return largest;
  }

 private:
  Potential* potential_;
  Structure start_;
  RelaxOptions options_;
  int atoms_;
  double pressure_;  // eV/Å³
  double cell_factor_;
  ComputeRequest request_;
};

// FIRE (Bitzek et al., PRL 97, 170201 (2006)) with ASE's parameters and step
// units: v += dt·f, Δx = dt·v, no masses.
struct FireState {
  static constexpr double dt_max = 1.0, increase = 1.1, decrease = 0.5, alpha_start = 0.1,
                          alpha_shrink = 0.99;
  static constexpr int delay = 5;
  double dt = 0.1, alpha = alpha_start;
  int positive_steps = 0;
  Eigen::VectorXd velocity;
};

// L-BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line
// search on H; the initial inverse Hessian is 1/70 Å²/eV (ASE's default) until
// the first curvature pair sets the scale. When no trial step lowers H enough
// but one lowers the gradient norm, that step is taken (see below).
struct LbfgsState {
  static constexpr int memory = 10;
  static constexpr double initial_inverse_curvature = 1.0 / 70.0, armijo = 1e-4;
  static constexpr int max_backtracks = 10, max_failures = 3;
  std::deque<Eigen::VectorXd> s_history, y_history;
  std::deque<double> rho_history;
  int failures = 0;

  void forget() {
    s_history.clear();
    y_history.clear();
    rho_history.clear();
  }
};

}  // namespace relax_steps

RelaxAlgorithm parse_relax_algorithm(const std::string& name) {
  if (name == "fire") return RelaxAlgorithm::fire;
  if (name == "lbfgs" || name == "l-bfgs") return RelaxAlgorithm::lbfgs;
  throw Error("unknown relaxation algorithm '" + name + "' (known: fire, lbfgs)");
}

std::string relax_algorithm_name(RelaxAlgorithm algorithm) {
  return algorithm == RelaxAlgorithm::fire ? "fire" : "lbfgs";
}

struct Relaxer::State {
  using Point = relax_steps::Point;
  using FireState = relax_steps::FireState;
  using LbfgsState = relax_steps::LbfgsState;

  RelaxOptions options;
  relax_steps::Objective objective;
  Point point;
  int step = 0;
  int evaluations = 0;
  bool stopped = false;  // L-BFGS gave up
  FireState fire;
  LbfgsState lbfgs;

  State(Potential& potential, const Structure& start, const RelaxOptions& relax_options)
      : options(relax_options), objective(potential, start, relax_options) {}

  Point evaluate(const Eigen::VectorXd& x) {
    ++evaluations;
    return objective.evaluate(x);
  }

  void report() {
    point.report.step = step;
    point.report.structure = &point.structure;
    if (options.observer) options.observer(point.report);
  }

  bool finished() const {
    return stopped || step >= options.max_steps || objective.converged(point);
  }

  void fire_step() {
    const Eigen::VectorXd force = -point.gradient;
    if (fire.velocity.size() != force.size()) fire.velocity = Eigen::VectorXd::Zero(force.size());
    if (step > 0) {
      if (fire.velocity.dot(force) > 0.0) {
        const double force_norm = force.norm();
        if (force_norm > 0)
          fire.velocity = (1.0 - fire.alpha) * fire.velocity +
                          fire.alpha * fire.velocity.norm() * force / force_norm;
        if (fire.positive_steps > FireState::delay) {
          fire.dt = std::min(fire.dt * FireState::increase, FireState::dt_max);
          fire.alpha *= FireState::alpha_shrink;
        }
        ++fire.positive_steps;
      } else {
        fire.velocity.setZero();
        fire.alpha = FireState::alpha_start;
        fire.dt *= FireState::decrease;
        fire.positive_steps = 0;
      }
    }
    fire.velocity += fire.dt * force;
    Eigen::VectorXd move = fire.dt * fire.velocity;
    const double largest = objective.largest_move(move);
    if (largest > options.max_step) move *= options.max_step / largest;
    point = evaluate(point.x + move);
    ++step;
    report();
  }

  // One L-BFGS iteration; false when it took no step (no acceptable trial).
  bool lbfgs_step() {
    // Two-loop recursion: direction = −H·g.
    Eigen::VectorXd q = point.gradient;
    const std::size_t pairs = lbfgs.s_history.size();
    std::vector<double> alphas(pairs);
    for (std::size_t k = pairs; k-- > 0;) {
      alphas[k] = lbfgs.rho_history[k] * lbfgs.s_history[k].dot(q);
      q -= alphas[k] * lbfgs.y_history[k];
    }
    double gamma = LbfgsState::initial_inverse_curvature;
    if (pairs > 0)
      gamma =
          lbfgs.s_history.back().dot(lbfgs.y_history.back()) / lbfgs.y_history.back().squaredNorm();
    Eigen::VectorXd direction = gamma * q;
    for (std::size_t k = 0; k < pairs; ++k) {
      const double beta = lbfgs.rho_history[k] * lbfgs.y_history[k].dot(direction);
      direction += lbfgs.s_history[k] * (alphas[k] - beta);
    }
    direction = -direction;
    if (direction.dot(point.gradient) >= 0.0) {  // not downhill: forget the curvature
      lbfgs.forget();
      direction = -LbfgsState::initial_inverse_curvature * point.gradient;
    }
    const double largest = objective.largest_move(direction);
    if (largest > options.max_step) direction *= options.max_step / largest;

    const double slope = direction.dot(point.gradient);
    double length = 1.0;
    bool accepted = false;
    Point trial, flattest;
    for (int backtrack = 0; backtrack < LbfgsState::max_backtracks; ++backtrack) {
      trial = evaluate(point.x + length * direction);
      if (trial.report.enthalpy <= point.report.enthalpy + LbfgsState::armijo * length * slope ||
          objective.converged(trial)) {
        accepted = true;
        break;
      }
      if (backtrack == 0 || trial.gradient.norm() < flattest.gradient.norm()) flattest = trial;
      length *= 0.5;
    }
    if (!accepted && flattest.gradient.norm() < point.gradient.norm()) {
      // H did not drop by the Armijo margin, yet the gradient did: near the
      // minimum, energy changes sink below the potential's own noise (pairs
      // crossing an unshifted cutoff, as in LAMMPS's buck) while forces and
      // stress stay smooth, and the gradient is what convergence asks for.
      trial = std::move(flattest);
      accepted = true;
    }
    if (!accepted) {
      // Neither H nor the gradient dropped: the curvature model is bad (retry
      // downhill) or the optimisation is at its noise floor (give up).
      lbfgs.forget();
      if (++lbfgs.failures >= LbfgsState::max_failures) {
        logger().warn(
            "relax: L-BFGS found neither a lower enthalpy nor a smaller gradient {} times in a "
            "row; stopping",
            lbfgs.failures);
        stopped = true;
      }
      return false;
    }
    lbfgs.failures = 0;
    const Eigen::VectorXd s = trial.x - point.x, y = trial.gradient - point.gradient;
    const double curvature = s.dot(y);
    if (curvature > 1e-12 * s.norm() * y.norm()) {
      lbfgs.s_history.push_back(s);
      lbfgs.y_history.push_back(y);
      lbfgs.rho_history.push_back(1.0 / curvature);
      if (static_cast<int>(lbfgs.s_history.size()) > LbfgsState::memory) {
        lbfgs.s_history.pop_front();
        lbfgs.y_history.pop_front();
        lbfgs.rho_history.pop_front();
      }
    }
    point = std::move(trial);
    ++step;
    report();
    return true;
  }
};

namespace {

nlohmann::json vector_to_json(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

Eigen::VectorXd vector_from_json(const nlohmann::json& j) {
  const auto values = j.get<std::vector<double>>();
  return Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size()));
}

void check_relax_input(const Structure& structure, const RelaxOptions& options) {
  structure.validate();
  if (structure.size() == 0) throw Error("relax: the structure has no atoms");
  // Every relaxation (relax, hull --relax-with, otf's relax stages, search templates).
  structure.refuse_fixed_atoms("relax: the structure", "a relaxation");
  // Once per relaxation; the steps (evaluate_bound) do not repeat the overlap check.
  check_no_coincident_atoms(structure);
  if (options.relax_cell && !(structure.pbc[0] && structure.pbc[1] && structure.pbc[2]))
    throw Error("relax: a free cell needs a structure periodic in all three directions");
  if (!(options.force_tolerance > 0) || !(options.stress_tolerance > 0))
    throw Error("relax: the force and stress tolerances must be positive");
  if (options.max_steps < 0) throw Error("relax: the step limit must not be negative");
  if (!(options.max_step > 0)) throw Error("relax: the largest step must be positive");
  check_target_pressure(options.pressure_gpa, "relax");
}

nlohmann::json structure_to_json(const Structure& structure) {
  nlohmann::json j;
  j["cell"] = std::vector<double>(structure.cell.data(), structure.cell.data() + 9);
  j["positions"] = std::vector<double>(structure.positions.data(),
                                       structure.positions.data() + structure.positions.size());
  j["numbers"] = structure.numbers;
  j["pbc"] = structure.pbc;
  return j;
}

Structure structure_from_json(const nlohmann::json& j) {
  Structure structure;
  const auto cell = j.at("cell").get<std::vector<double>>();
  const auto positions = j.at("positions").get<std::vector<double>>();
  structure.numbers = j.at("numbers").get<std::vector<int>>();
  structure.pbc = j.at("pbc").get<std::array<bool, 3>>();
  if (cell.size() != 9 || positions.size() != 3 * structure.numbers.size())
    throw Error("relaxation state: cell or positions of the wrong size");
  structure.cell = Eigen::Map<const Eigen::Matrix3d>(cell.data());
  structure.positions = Eigen::Map<const Positions>(
      positions.data(), static_cast<Eigen::Index>(structure.numbers.size()), 3);
  return structure;
}

}  // namespace

Relaxer::Relaxer(Potential& potential, const Structure& structure, const RelaxOptions& options) {
  check_relax_input(structure, options);
  state_ = std::make_unique<State>(potential, structure, options);
  state_->objective.bind();
  state_->point = state_->evaluate(state_->objective.initial());
  state_->report();
}

Relaxer::Relaxer(Potential& potential, const nlohmann::json& saved, const RelaxOptions& options) {
  try {
    const Structure start = structure_from_json(saved.at("start"));
    check_relax_input(start, options);
    if (saved.at("algorithm").get<std::string>() != relax_algorithm_name(options.algorithm) ||
        saved.at("relax_cell").get<bool>() != options.relax_cell)
      throw Error("relaxation state: saved with another algorithm or cell setting");
    state_ = std::make_unique<State>(potential, start, options);
    State& s = *state_;
    const Eigen::VectorXd x = vector_from_json(saved.at("x"));
    if (x.size() != s.objective.size())
      throw Error("relaxation state: wrong number of coordinates");
    s.step = saved.at("step").get<int>();
    s.stopped = saved.at("stopped").get<bool>();
    const auto& fire = saved.at("fire");
    s.fire.dt = fire.at("dt").get<double>();
    s.fire.alpha = fire.at("alpha").get<double>();
    s.fire.positive_steps = fire.at("positive_steps").get<int>();
    s.fire.velocity = vector_from_json(fire.at("velocity"));
    const auto& lbfgs = saved.at("lbfgs");
    for (const auto& v : lbfgs.at("s")) s.lbfgs.s_history.push_back(vector_from_json(v));
    for (const auto& v : lbfgs.at("y")) s.lbfgs.y_history.push_back(vector_from_json(v));
    s.lbfgs.rho_history = lbfgs.at("rho").get<std::deque<double>>();
    s.lbfgs.failures = lbfgs.at("failures").get<int>();
    s.objective.bind();
    s.point = s.objective.evaluate(x);  // not counted: the saved run counted it
    s.evaluations = saved.at("evaluations").get<int>();
    s.point.report.step = s.step;
    s.point.report.structure = &s.point.structure;
  } catch (const nlohmann::json::exception& error) {
    throw Error(std::string("relaxation state: ") + error.what());
  }
}

Relaxer::~Relaxer() = default;
Relaxer::Relaxer(Relaxer&& other) noexcept = default;
Relaxer& Relaxer::operator=(Relaxer&& other) noexcept = default;

int Relaxer::advance(int steps) {
  State& s = *state_;
  if (s.finished() || steps <= 0) return 0;
  s.objective.bind();
  int taken = 0;
  while (taken < steps && !s.finished()) {
    if (s.options.algorithm == RelaxAlgorithm::fire) {
      s.fire_step();
      ++taken;
    } else if (s.lbfgs_step()) {
      ++taken;
    }
  }
  // The reported structure pointer follows the point when the Relaxer moves.
  s.point.report.structure = &s.point.structure;
  return taken;
}

bool Relaxer::finished() const {
  return state_->finished();
}
bool Relaxer::converged() const {
  return state_->objective.converged(state_->point);
}
int Relaxer::steps() const {
  return state_->step;
}
int Relaxer::evaluations() const {
  return state_->evaluations;
}
const RelaxStep& Relaxer::current() const {
  state_->point.report.structure = &state_->point.structure;
  return state_->point.report;
}

RelaxResult Relaxer::result() const {
  const auto& point = state_->point;
  RelaxResult result;
  result.converged = converged();
  result.steps = state_->step;
  result.evaluations = state_->evaluations;
  result.energy = point.report.energy;
  result.enthalpy = point.report.enthalpy;
  result.max_force = point.report.max_force;
  result.max_stress_deviation = point.report.max_stress_deviation;
  result.pressure = point.report.pressure;
  result.extrapolation = point.report.extrapolation;
  result.structure = point.structure;
  return result;
}

nlohmann::json Relaxer::to_json() const {
  const State& s = *state_;
  nlohmann::json j;
  j["format_version"] = 1;
  j["algorithm"] = relax_algorithm_name(s.options.algorithm);
  j["relax_cell"] = s.options.relax_cell;
  j["start"] = structure_to_json(s.objective.start());
  j["x"] = vector_to_json(s.point.x);
  j["step"] = s.step;
  j["evaluations"] = s.evaluations;
  j["stopped"] = s.stopped;
  j["fire"] = {{"dt", s.fire.dt},
               {"alpha", s.fire.alpha},
               {"positive_steps", s.fire.positive_steps},
               {"velocity", vector_to_json(s.fire.velocity)}};
  nlohmann::json sj = nlohmann::json::array(), yj = nlohmann::json::array();
  for (const auto& v : s.lbfgs.s_history) sj.push_back(vector_to_json(v));
  for (const auto& v : s.lbfgs.y_history) yj.push_back(vector_to_json(v));
  j["lbfgs"] = {{"s", sj}, {"y", yj}, {"rho", s.lbfgs.rho_history}, {"failures", s.lbfgs.failures}};
  return j;
}

void Relaxer::save(const std::filesystem::path& file) const {
  OutputFile out(file);
  out.stream() << to_json().dump();
  out.commit();
}

Relaxer Relaxer::load(Potential& potential, const std::filesystem::path& file,
                      const RelaxOptions& options) {
  std::ifstream in(file);
  if (!in) throw Error("cannot read the relaxation state '" + file.string() + "'");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& error) {
    throw Error("relaxation state '" + file.string() + "': " + error.what());
  }
  return Relaxer(potential, j, options);
}

RelaxResult relax(Potential& potential, const Structure& structure, const RelaxOptions& options) {
  Relaxer relaxer(potential, structure, options);
  // In short rounds, so that Ctrl-C (core/interrupt.hpp) ends a long relaxation
  // with the structure reached so far, reported as not converged.
  constexpr int round = 10;
  while (!relaxer.finished() && !interrupt_requested()) relaxer.advance(round);
  return relaxer.result();
}

double stress_residual(const Voigt& stress, double pressure_gpa) {
  const double pressure = pressure_gpa * units::gpa_in_ev_per_a3;
  double sum = 0.0;
  for (int k = 0; k < 6; ++k) {
    const double residual = stress[k] + (k < 3 ? pressure : 0.0);
    sum += residual * residual;
  }
  return std::sqrt(sum / 6.0);
}

}  // namespace otfgp
