#include "otfgp/relax.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <deque>

#include "otfgp/core/interrupt.hpp"
#include "otfgp/error.hpp"
#include "otfgp/evaluate.hpp"
#include "otfgp/log.hpp"
#include "otfgp/units.hpp"

namespace otfgp {

namespace {

// One evaluated point of the optimisation.
struct Point {
  Eigen::VectorXd x;         // generalised coordinates
  Eigen::VectorXd gradient;  // ∂H/∂x
  double energy = 0.0;
  double enthalpy = 0.0;
  double max_force = 0.0;             // eV/Å
  double max_stress_deviation = 0.0;  // GPa
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
      : potential_(potential),
        start_(start),
        options_(options),
        atoms_(start.size()),
        pressure_(options.pressure_gpa * units::gpa_in_ev_per_a3),
        cell_factor_(std::max(1, start.size())) {}

  int size() const { return 3 * atoms_ + (options_.relax_cell ? 9 : 0); }
  int evaluations() const { return evaluations_; }

  Eigen::VectorXd initial() const {
    Eigen::VectorXd x(size());
    for (int i = 0; i < atoms_; ++i)
      for (int d = 0; d < 3; ++d) x[3 * i + d] = start_.positions(i, d);
    if (options_.relax_cell)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) x[3 * atoms_ + 3 * a + b] = cell_factor_ * (a == b ? 1.0 : 0.0);
    return x;
  }

  Point evaluate(const Eigen::VectorXd& x) {
    ++evaluations_;
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

    const Evaluation evaluation = otfgp::evaluate(potential_, point.structure);
    attach_labels(point.structure, evaluation);
    if (!std::isfinite(evaluation.energy))
      throw Error(
          "relax: the potential returned a non-finite energy (atoms too close, or the cell "
          "collapsed)");
    const bool periodic = evaluation.stress.has_value();
    const double volume = periodic ? point.structure.volume() : 0.0;
    point.energy = evaluation.energy;
    point.enthalpy = evaluation.energy + pressure_ * volume;

    point.gradient.resize(size());
    const Positions generalised = evaluation.forces * deformation;
    for (int i = 0; i < atoms_; ++i) {
      point.max_force = std::max(point.max_force, evaluation.forces.row(i).norm());
      for (int d = 0; d < 3; ++d) point.gradient[3 * i + d] = -generalised(i, d);
    }
    if (options_.relax_cell) {
      const Eigen::Matrix3d deviation =
          stress_matrix(*evaluation.stress) + pressure_ * Eigen::Matrix3d::Identity();
      point.max_stress_deviation = deviation.cwiseAbs().maxCoeff() * units::ev_per_a3_in_gpa;
      const Eigen::Matrix3d cell_gradient =
          volume * deviation * deformation.inverse().transpose() / cell_factor_;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) point.gradient[3 * atoms_ + 3 * a + b] = cell_gradient(a, b);
    }
    return point;
  }

  bool converged(const Point& point) const {
    return point.max_force < options_.force_tolerance &&
           (!options_.relax_cell || point.max_stress_deviation < options_.stress_tolerance);
  }

  // Largest Euclidean length over the rows of three (one atom, one row of N·F).
  double largest_move(const Eigen::VectorXd& step) const {
    double largest = 0.0;
    for (int row = 0; row < step.size() / 3; ++row)
      largest = std::max(largest, step.segment<3>(3 * row).norm());
    return largest;
  }

 private:
  Potential& potential_;
  const Structure& start_;
  const RelaxOptions& options_;
  int atoms_;
  double pressure_;  // eV/Å³
  double cell_factor_;
  int evaluations_ = 0;
};

void report(const RelaxOptions& options, int step, const Point& point) {
  if (!options.observer) return;
  RelaxStep state;
  state.step = step;
  state.energy = point.energy;
  state.enthalpy = point.enthalpy;
  state.max_force = point.max_force;
  state.max_stress_deviation = point.max_stress_deviation;
  state.structure = &point.structure;
  options.observer(state);
}

// FIRE (Bitzek et al., PRL 97, 170201 (2006)) with ASE's parameters and step
// units: v += dt·f, Δx = dt·v, no masses.
int run_fire(Objective& objective, Point& point, const RelaxOptions& options) {
  constexpr double dt_max = 1.0, increase = 1.1, decrease = 0.5, alpha_start = 0.1,
                   alpha_shrink = 0.99;
  constexpr int delay = 5;
  double dt = 0.1, alpha = alpha_start;
  int positive_steps = 0;
  Eigen::VectorXd velocity = Eigen::VectorXd::Zero(point.x.size());
  int step = 0;
  while (step < options.max_steps && !objective.converged(point) && !interrupt_requested()) {
    const Eigen::VectorXd force = -point.gradient;
    if (step > 0) {
      if (velocity.dot(force) > 0.0) {
        const double force_norm = force.norm();
        if (force_norm > 0)
          velocity = (1.0 - alpha) * velocity + alpha * velocity.norm() * force / force_norm;
        if (positive_steps > delay) {
          dt = std::min(dt * increase, dt_max);
          alpha *= alpha_shrink;
        }
        ++positive_steps;
      } else {
        velocity.setZero();
        alpha = alpha_start;
        dt *= decrease;
        positive_steps = 0;
      }
    }
    velocity += dt * force;
    Eigen::VectorXd move = dt * velocity;
    const double largest = objective.largest_move(move);
    if (largest > options.max_step) move *= options.max_step / largest;
    point = objective.evaluate(point.x + move);
    ++step;
    report(options, step, point);
  }
  return step;
}

// L-BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line
// search on H; the initial inverse Hessian is 1/70 Å²/eV (ASE's default) until
// the first curvature pair sets the scale. When no trial step lowers H enough
// but one lowers the gradient norm, that step is taken (see below).
int run_lbfgs(Objective& objective, Point& point, const RelaxOptions& options) {
  constexpr int memory = 10;
  constexpr double initial_inverse_curvature = 1.0 / 70.0, armijo = 1e-4;
  constexpr int max_backtracks = 10, max_failures = 3;
  std::deque<Eigen::VectorXd> s_history, y_history;
  std::deque<double> rho_history;
  int step = 0, failures = 0;
  while (step < options.max_steps && !objective.converged(point) && !interrupt_requested()) {
    // Two-loop recursion: direction = −H·g.
    Eigen::VectorXd q = point.gradient;
    std::vector<double> alphas(s_history.size());
    for (int k = static_cast<int>(s_history.size()) - 1; k >= 0; --k) {
      alphas[static_cast<std::size_t>(k)] =
          rho_history[static_cast<std::size_t>(k)] * s_history[static_cast<std::size_t>(k)].dot(q);
      q -= alphas[static_cast<std::size_t>(k)] * y_history[static_cast<std::size_t>(k)];
    }
    double gamma = initial_inverse_curvature;
    if (!s_history.empty())
      gamma = s_history.back().dot(y_history.back()) / y_history.back().squaredNorm();
    Eigen::VectorXd direction = gamma * q;
    for (std::size_t k = 0; k < s_history.size(); ++k) {
      const double beta = rho_history[k] * y_history[k].dot(direction);
      direction += s_history[k] * (alphas[k] - beta);
    }
    direction = -direction;
    if (direction.dot(point.gradient) >= 0.0) {  // not downhill: forget the curvature
      s_history.clear();
      y_history.clear();
      rho_history.clear();
      direction = -initial_inverse_curvature * point.gradient;
    }
    const double largest = objective.largest_move(direction);
    if (largest > options.max_step) direction *= options.max_step / largest;

    const double slope = direction.dot(point.gradient);
    double length = 1.0;
    bool accepted = false;
    Point trial, flattest;
    for (int backtrack = 0; backtrack < max_backtracks; ++backtrack) {
      trial = objective.evaluate(point.x + length * direction);
      if (trial.enthalpy <= point.enthalpy + armijo * length * slope ||
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
      s_history.clear();
      y_history.clear();
      rho_history.clear();
      if (++failures >= max_failures) {
        logger().warn(
            "relax: L-BFGS found neither a lower enthalpy nor a smaller gradient {} times in a "
            "row; stopping",
            failures);
        break;
      }
      continue;
    }
    failures = 0;
    const Eigen::VectorXd s = trial.x - point.x, y = trial.gradient - point.gradient;
    const double curvature = s.dot(y);
    if (curvature > 1e-12 * s.norm() * y.norm()) {
      s_history.push_back(s);
      y_history.push_back(y);
      rho_history.push_back(1.0 / curvature);
      if (static_cast<int>(s_history.size()) > memory) {
        s_history.pop_front();
        y_history.pop_front();
        rho_history.pop_front();
      }
    }
    point = std::move(trial);
    ++step;
    report(options, step, point);
  }
  return step;
}

}  // namespace

RelaxAlgorithm parse_relax_algorithm(const std::string& name) {
  if (name == "fire") return RelaxAlgorithm::fire;
  if (name == "lbfgs" || name == "l-bfgs") return RelaxAlgorithm::lbfgs;
  throw Error("unknown relaxation algorithm '" + name + "' (known: fire, lbfgs)");
}

std::string relax_algorithm_name(RelaxAlgorithm algorithm) {
  return algorithm == RelaxAlgorithm::fire ? "fire" : "lbfgs";
}

RelaxResult relax(Potential& potential, const Structure& structure, const RelaxOptions& options) {
  structure.validate();
  if (structure.size() == 0) throw Error("relax: the structure has no atoms");
  if (options.relax_cell && !(structure.pbc[0] && structure.pbc[1] && structure.pbc[2]))
    throw Error("relax: a free cell needs a structure periodic in all three directions");
  if (!(options.force_tolerance > 0) || !(options.stress_tolerance > 0))
    throw Error("relax: the force and stress tolerances must be positive");
  if (options.max_steps < 0) throw Error("relax: the step limit must not be negative");
  if (!(options.max_step > 0)) throw Error("relax: the largest step must be positive");
  if (!std::isfinite(options.pressure_gpa))
    throw Error("relax: the pressure must be a finite number of GPa");

  Objective objective(potential, structure, options);
  Point point = objective.evaluate(objective.initial());
  report(options, 0, point);
  const int steps = options.algorithm == RelaxAlgorithm::fire
                        ? run_fire(objective, point, options)
                        : run_lbfgs(objective, point, options);
  RelaxResult result;
  result.converged = objective.converged(point);
  result.steps = steps;
  result.evaluations = objective.evaluations();
  result.energy = point.energy;
  result.enthalpy = point.enthalpy;
  result.max_force = point.max_force;
  result.max_stress_deviation = point.max_stress_deviation;
  if (point.structure.stress) {
    const Voigt& sigma = *point.structure.stress;
    result.pressure = -(sigma[0] + sigma[1] + sigma[2]) / 3.0 * units::ev_per_a3_in_gpa;
  }
  result.structure = std::move(point.structure);
  return result;
}

}  // namespace otfgp
