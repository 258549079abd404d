// Dense products through CBLAS (host memory) or cuBLAS (a CUDA device).

#include "otfgp/gp/dense_products.hpp"

#if defined(KOKKOS_ENABLE_CUDA)
#include <cublas_v2.h>
#endif
#include <cblas.h>

#include "otfgp/core/error.hpp"

namespace otfgp {

void DenseProducts::multiply(bool transpose_a, bool transpose_b, int n, int m, int k, double alpha,
                             const double* a, int lda, const double* b, int ldb, double beta,
                             double* c, int ldc) {
  if constexpr (host_memory) {
    ExecSpace().fence();  // the rows written by the kernels before
    cblas_dgemm(CblasColMajor, transpose_b ? CblasTrans : CblasNoTrans,
                transpose_a ? CblasTrans : CblasNoTrans, m, n, k, alpha, b, ldb, a, lda, beta, c,
                ldc);
  } else {
#if defined(KOKKOS_ENABLE_CUDA)
    if (!handle_) {
      cublasHandle_t made = nullptr;
      if (cublasCreate(&made) != CUBLAS_STATUS_SUCCESS)
        throw Error("dense products: cuBLAS could not start (cublasCreate failed)");
      handle_ = std::shared_ptr<void>(made, [](void* h) { cublasDestroy(cublasHandle_t(h)); });
    }
    const auto blas = cublasHandle_t(handle_.get());
    if (cublasSetStream(blas, ExecSpace().cuda_stream()) != CUBLAS_STATUS_SUCCESS ||
        cublasDgemm(blas, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                    transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, b, ldb, a, lda, &beta,
                    c, ldc) != CUBLAS_STATUS_SUCCESS)
      throw Error("dense products: a cuBLAS product failed (cublasDgemm)");
#else
    throw Error("dense products: this backend has none (host memory or CUDA only)");
#endif
  }
}

}  // namespace otfgp
