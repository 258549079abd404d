#pragma once
// A QR factorisation X = Q R of a matrix whose rows and columns both grow, with
// one right-hand side b carried along (Qᵀb). It is what lets the sparse GP take
// a new DFT frame (rows) or new sparse environments (columns) without
// refactorising its history.
//
// Q is never formed: it is the product of the Householder blocks of every
// update, kept in LAPACK's triangular–pentagonal compact-WY form (dtpqrt).
//   - add_rows(k rows): one block that folds the rows into R; O(k·n²) flops.
//   - add_columns(m columns given on every row so far): Qᵀ applied to the new
//     columns through every stored block, then one block that reduces what is
//     left below R; O(rows·n·m) flops, the least any update can cost when
//     every row gains m entries.
// The stored blocks take about rows × cols doubles, the size of X itself.
// R is cols × cols upper triangular with RᵀR = XᵀX (rows may be fewer than
// columns; R is then rank-deficient, which is fine for the sums the GP needs).

#include <Eigen/Core>
#include <vector>

namespace otfgp {

class GrowingQr {
 public:
  // One orthogonal block: reflectors acting on top coordinates
  // [top_begin, top_begin + top_count) of R and on rows [row_begin, row_begin + row_count).
  // Blocks are only ever appended; a checkpoint saves the new ones
  // (factor_journal.hpp) so that a restored factor can grow again.
  struct Block {
    int top_begin = 0, top_count = 0;
    int row_begin = 0, row_count = 0;
    int block_size = 1;
    Eigen::MatrixXd v;  // row_count × top_count
    Eigen::MatrixXd t;  // block_size × top_count
  };

  int rows() const { return rows_; }
  int cols() const { return static_cast<int>(r_.cols()); }

  // Appends rows (k × cols) with their right-hand-side entries (k).
  void add_rows(const Eigen::MatrixXd& block, const Eigen::VectorXd& rhs);
  // Appends columns: their values on every row added so far, in the order the
  // rows were added (rows × m).
  void add_columns(const Eigen::MatrixXd& columns);

  // cols × cols upper triangular.
  const Eigen::MatrixXd& r() const { return r_; }
  // The first cols entries of Qᵀb.
  const Eigen::VectorXd& z() const { return z_; }
  // |b|² − |z|², computed as the squared norm of the rest of Qᵀb (no cancellation).
  double residual_squared_norm() const;
  // Squared norm of b, accumulated as rows are added.
  double rhs_squared_norm() const { return rhs_squared_norm_; }

  // A factor restored from a file: R, z and the residual are known, the
  // Householder blocks are not, so the factor cannot grow (can_grow() false)
  // until it is rebuilt from the rows or resumed. `residual`, when given (rows
  // entries: residual() of the factor that was saved), makes resume() possible.
  static GrowingQr restored(Eigen::MatrixXd r, Eigen::VectorXd z, double residual_squared_norm,
                            double rhs_squared_norm, int rows, Eigen::VectorXd residual = {});
  bool can_grow() const { return can_grow_; }
  // A restored factor made growable again with every Householder block the
  // saved one had, in order; it then grows bit for bit as the saved one would.
  // Throws std::invalid_argument without the residual or when a block does not fit.
  void resume(std::vector<Block> blocks);
  // The rest of Qᵀb, one entry per row (empty for a factor restored without it).
  const Eigen::VectorXd& residual() const { return residual_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  // Bytes held by R, z and the stored Householder blocks.
  std::size_t memory_bytes() const;

 private:
  void require_growable(const char* operation) const;

  int rows_ = 0;
  Eigen::MatrixXd r_;
  Eigen::VectorXd z_;
  Eigen::VectorXd residual_;  // Qᵀb beyond the top, one entry per row
  double rhs_squared_norm_ = 0.0;
  double restored_residual_squared_norm_ = 0.0;
  bool can_grow_ = true;
  std::vector<Block> blocks_;
};

}  // namespace otfgp
