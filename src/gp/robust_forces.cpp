#include "otfgp/gp/robust_forces.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace otfgp {

std::vector<double> robust_force_noise_scales(const Eigen::VectorXd& error, double factor,
                                              double force_noise) {
  if (!(factor > 1.0) || !(force_noise > 0.0))
    throw std::invalid_argument("robust_force_noise_scales: factor > 1 and force noise > 0 needed");
  if (error.size() == 0) return {};
  std::vector<double> sorted(error.data(), error.data() + error.size());
  const auto middle = sorted.begin() + static_cast<long>(sorted.size() / 2);
  std::nth_element(sorted.begin(), middle, sorted.end());
  const double threshold = factor * std::max(*middle, std::sqrt(3.0) * force_noise);
  if (!(error.maxCoeff() > threshold)) return {};
  std::vector<double> scales(error.size(), 1.0);
  for (Eigen::Index i = 0; i < error.size(); ++i)
    if (error[i] > threshold) scales[i] = std::sqrt(error[i] / threshold);
  return scales;
}

}  // namespace otfgp
