#include "otfgp/gp/descriptor.hpp"

#include <stdexcept>

namespace otfgp {

int Descriptor::pull_back_rows(const std::vector<int>& atoms, const Eigen::MatrixXd& adjoints,
                               int natoms, int size) {
  if (adjoints.cols() != size)
    throw std::invalid_argument("Descriptor::pull_back: the covectors need one column per entry");
  for (int i : atoms)
    if (i < 0 || i >= natoms) throw std::out_of_range("Descriptor::pull_back: atom index");
  if (atoms.empty()) return 0;
  const auto count = static_cast<Eigen::Index>(atoms.size());
  if (adjoints.rows() % count != 0)
    throw std::invalid_argument("Descriptor::pull_back: rows are not a multiple of the atoms");
  return static_cast<int>(adjoints.rows() / count);
}

Eigen::MatrixXd Descriptor::pull_back(const AtomState& state, const NeighborList& list,
                                      const std::vector<int>& atoms,
                                      const Eigen::MatrixXd& adjoints) const {
  const int rows = pull_back_rows(atoms, adjoints, state.natoms, size());
  const DescriptorValues values = compute(state, list, true);
  int entries = 0;
  for (int i : atoms) entries += values.offsets[i + 1] - values.offsets[i];
  Eigen::MatrixXd out(rows, 3 * entries);
  int column = 0;
  for (std::size_t a = 0; a < atoms.size(); ++a) {
    const int begin = values.offsets[atoms[a]], count = values.offsets[atoms[a] + 1] - begin;
    out.middleCols(column, 3 * count).noalias() =
        adjoints.middleRows(static_cast<Eigen::Index>(a) * rows, rows) *
        values.gradient.middleRows(3 * begin, 3 * count).transpose();
    column += 3 * count;
  }
  return out;
}

}  // namespace otfgp
