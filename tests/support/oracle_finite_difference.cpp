#include "support/oracle_finite_difference.hpp"

#include <stdexcept>
#include <string>

namespace otfgp::testing {

double oracle_energy(oracle::Oracle& oracle, const Structure& structure,
                     const std::filesystem::path& workdir) {
  static int counter = 0;
  const Structure labelled =
      oracle.label(structure, workdir / ("point-" + std::to_string(counter++)), 0);
  if (!labelled.energy) throw std::runtime_error("oracle returned no energy");
  return *labelled.energy;
}

double oracle_force_difference(oracle::Oracle& oracle, const Structure& structure, int atom,
                               int direction, double step, const std::filesystem::path& workdir) {
  Structure plus = structure, minus = structure;
  plus.positions(atom, direction) += step;
  minus.positions(atom, direction) -= step;
  return -(oracle_energy(oracle, plus, workdir) - oracle_energy(oracle, minus, workdir)) /
         (2 * step);
}

double oracle_stress_difference(oracle::Oracle& oracle, const Structure& structure, int i, int j,
                                double step, const std::filesystem::path& workdir) {
  const auto strained = [&](double amount) {
    Eigen::Matrix3d deformation = Eigen::Matrix3d::Identity();
    deformation(i, j) += amount;
    if (i != j) deformation(j, i) += amount;
    Structure copy = structure;
    copy.cell = structure.cell * deformation;
    copy.positions = structure.positions * deformation;
    return copy;
  };
  const double difference = oracle_energy(oracle, strained(step), workdir) -
                            oracle_energy(oracle, strained(-step), workdir);
  return difference / ((i == j ? 2 : 4) * step * structure.volume());
}

}  // namespace otfgp::testing
