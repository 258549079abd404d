#include "otfgp/gp/growing_qr.hpp"

#include <lapacke.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace otfgp {

namespace {

constexpr int max_block_size = 32;

void check_lapack(lapack_int info, const char* routine) {
  if (info != 0)
    throw std::runtime_error(std::string("GrowingQr: ") + routine + " failed, info " +
                             std::to_string(info));
}

// Qᵀ of a stored block applied to [A; B] (A: the block's top rows, B: its rows),
// both slices of column-major matrices with the given leading dimensions.
void apply_block_transpose(int row_count, int columns, int top_count, int block_size,
                           const Eigen::MatrixXd& v, const Eigen::MatrixXd& t, double* a, int lda,
                           double* b, int ldb) {
  if (row_count == 0 || columns == 0 || top_count == 0) return;
  check_lapack(LAPACKE_dtpmqrt(LAPACK_COL_MAJOR, 'L', 'T', row_count, columns, top_count, 0,
                               block_size, v.data(), static_cast<int>(v.rows()), t.data(),
                               static_cast<int>(t.rows()), a, lda, b, ldb),
               "dtpmqrt");
}

}  // namespace

void GrowingQr::require_growable(const char* operation) const {
  if (!can_grow_)
    throw std::logic_error(std::string("GrowingQr::") + operation +
                           ": a restored factor has no Householder blocks; rebuild it first");
}

void GrowingQr::add_rows(const Eigen::MatrixXd& block, const Eigen::VectorXd& rhs) {
  require_growable("add_rows");
  const int k = static_cast<int>(block.rows());
  const int n = cols();
  if (block.cols() != n || rhs.size() != k)
    throw std::invalid_argument("GrowingQr::add_rows: sizes disagree");
  if (k == 0) return;
  rhs_squared_norm_ += rhs.squaredNorm();
  Eigen::VectorXd rotated_rhs = rhs;
  if (n > 0) {
    Block b;
    b.top_begin = 0;
    b.top_count = n;
    b.row_begin = rows_;
    b.row_count = k;
    // T is block_size × n: small blocks (an energy row, six stress rows) get a small T.
    b.block_size = std::max(1, std::min({max_block_size, n, k}));
    b.v = block;
    b.t.setZero(b.block_size,
                n);  // dtpqrt leaves the parts below its blocks; LAPACKE checks them for NaN
    check_lapack(LAPACKE_dtpqrt(LAPACK_COL_MAJOR, k, n, 0, b.block_size, r_.data(), n, b.v.data(),
                                k, b.t.data(), b.block_size),
                 "dtpqrt");
    apply_block_transpose(k, 1, n, b.block_size, b.v, b.t, z_.data(), n, rotated_rhs.data(), k);
    blocks_.push_back(std::move(b));
  }
  residual_.conservativeResize(rows_ + k);
  residual_.tail(k) = rotated_rhs;
  rows_ += k;
}

void GrowingQr::add_columns(const Eigen::MatrixXd& columns) {
  require_growable("add_columns");
  const int m = static_cast<int>(columns.cols());
  const int n = cols();
  if (columns.rows() != rows_)
    throw std::invalid_argument("GrowingQr::add_columns: one value per row expected");
  if (m == 0) return;
  // Qᵀ [0; C]: the new columns start at zero in the top coordinates.
  Eigen::MatrixXd top = Eigen::MatrixXd::Zero(n, m);
  Eigen::MatrixXd lower = columns;
  for (const Block& b : blocks_)
    apply_block_transpose(b.row_count, m, b.top_count, b.block_size, b.v, b.t,
                          top.data() + b.top_begin, n, lower.data() + b.row_begin, rows_);
  Eigen::MatrixXd grown = Eigen::MatrixXd::Zero(n + m, n + m);
  grown.topLeftCorner(n, n) = r_;
  grown.topRightCorner(n, m) = top;
  Eigen::VectorXd grown_z = Eigen::VectorXd::Zero(n + m);
  grown_z.head(n) = z_;
  if (rows_ > 0) {
    // What is left below R is reduced by one more block whose top rows are the new ones.
    Block b;
    b.top_begin = n;
    b.top_count = m;
    b.row_begin = 0;
    b.row_count = rows_;
    b.block_size = std::min(max_block_size, m);
    b.v = std::move(lower);
    b.t.setZero(b.block_size, m);
    Eigen::MatrixXd r_new = Eigen::MatrixXd::Zero(m, m);
    check_lapack(LAPACKE_dtpqrt(LAPACK_COL_MAJOR, rows_, m, 0, b.block_size, r_new.data(), m,
                                b.v.data(), rows_, b.t.data(), b.block_size),
                 "dtpqrt");
    grown.bottomRightCorner(m, m) = r_new;
    Eigen::VectorXd z_new = Eigen::VectorXd::Zero(m);
    apply_block_transpose(rows_, 1, m, b.block_size, b.v, b.t, z_new.data(), m, residual_.data(),
                          rows_);
    grown_z.tail(m) = z_new;
    blocks_.push_back(std::move(b));
  }
  r_ = std::move(grown);
  z_ = std::move(grown_z);
}

double GrowingQr::residual_squared_norm() const {
  return can_grow_ ? residual_.squaredNorm() : restored_residual_squared_norm_;
}

GrowingQr GrowingQr::restored(Eigen::MatrixXd r, Eigen::VectorXd z, double residual_squared_norm,
                              double rhs_squared_norm, int rows, Eigen::VectorXd residual) {
  if (r.rows() != r.cols() || z.size() != r.rows())
    throw std::invalid_argument("GrowingQr::restored: sizes disagree");
  // The saved norm was computed from this very vector: anything else is another factor's.
  if (residual.size() > 0 &&
      (residual.size() != rows || residual.squaredNorm() != residual_squared_norm))
    throw std::invalid_argument("GrowingQr::restored: the residual is not this factor's");
  GrowingQr qr;
  qr.r_ = std::move(r);
  qr.z_ = std::move(z);
  qr.rows_ = rows;
  qr.residual_ = std::move(residual);
  qr.restored_residual_squared_norm_ = residual_squared_norm;
  qr.rhs_squared_norm_ = rhs_squared_norm;
  qr.can_grow_ = false;
  return qr;
}

void GrowingQr::resume(std::vector<Block> blocks) {
  if (can_grow_) throw std::logic_error("GrowingQr::resume: the factor can already grow");
  if (residual_.size() != rows_)
    throw std::invalid_argument("GrowingQr::resume: the factor was restored without its residual");
  int top_end = 0, row_end = 0;
  for (const Block& b : blocks) {
    const bool fits = b.top_begin >= 0 && b.top_count >= 0 && b.top_begin + b.top_count <= cols() &&
                      b.row_begin >= 0 && b.row_count >= 0 && b.row_begin + b.row_count <= rows_ &&
                      b.v.rows() == b.row_count && b.v.cols() == b.top_count && b.block_size >= 1 &&
                      b.t.rows() == b.block_size && b.t.cols() == b.top_count;
    if (!fits) throw std::invalid_argument("GrowingQr::resume: a block does not fit the factor");
    top_end = std::max(top_end, b.top_begin + b.top_count);
    row_end = std::max(row_end, b.row_begin + b.row_count);
  }
  // Every row and column added with both present went through a block.
  const bool complete =
      rows_ == 0 || cols() == 0 ? blocks.empty() : top_end == cols() && row_end == rows_;
  if (!complete)
    throw std::invalid_argument("GrowingQr::resume: the blocks reach column " +
                                std::to_string(top_end) + " and row " + std::to_string(row_end) +
                                ", the factor has " + std::to_string(cols()) + " and " +
                                std::to_string(rows_) + " (blocks missing)");
  blocks_ = std::move(blocks);
  can_grow_ = true;
}

std::size_t GrowingQr::memory_bytes() const {
  std::size_t doubles = r_.size() + z_.size() + residual_.size();
  for (const Block& b : blocks_) doubles += b.v.size() + b.t.size();
  return doubles * sizeof(double);
}

}  // namespace otfgp
