#pragma once
// Dense products of row-major matrices in MemSpace through a BLAS: the
// system's CBLAS in host memory, cuBLAS on a CUDA device (on the device's
// stream, after the kernels before it). What the GP's batched energy pass
// (β_s d̂) and its uncertainty (the variance rows) multiply with; other GPU
// backends have none here and keep their kernels.

#include <memory>
#include <type_traits>

#include "otfgp/core/types.hpp"

namespace otfgp {

// Whether this backend has dense products: host memory, or a CUDA device.
#if defined(KOKKOS_ENABLE_CUDA)
inline constexpr bool has_dense_products = std::is_same_v<ExecSpace, Kokkos::Cuda>;
#else
inline constexpr bool has_dense_products = host_memory;
#endif

class DenseProducts {
 public:
  // Row-major C (n × m) = alpha · op(A) · op(B) + beta · C, with op(X) = Xᵀ
  // where transpose_x; op(A) is n × k, op(B) k × m; lda, ldb and ldc are the
  // row strides of the stored A, B and C. The host's call and the device's
  // take the same column-major arguments (Cᵀ = op(B)ᵀ op(A)ᵀ), so the host's
  // tests check the arguments the device's call takes. Throws Error when
  // cuBLAS fails or the backend has no dense products.
  void multiply(bool transpose_a, bool transpose_b, int n, int m, int k, double alpha,
                const double* a, int lda, const double* b, int ldb, double beta, double* c,
                int ldc);

 private:
  std::shared_ptr<void> handle_;  // cuBLAS's, made on first use; shared by copies
};

}  // namespace otfgp
