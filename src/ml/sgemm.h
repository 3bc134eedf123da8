#pragma once
// Row-major float32 matrix products on oneDNN's sgemm. Its kernels are generated at run time for the CPU found
// (AVX-512 on the machines we measure), where Debian's OpenBLAS 0.3.21 does not recognise recent Xeons (Sapphire /
// Emerald Rapids) and falls back to its SSE3 "Prescott" kernels: 4-5x slower on the logistic objective's block
// products (bench/ml/bench_logistic_regression.py). Called inside our own OpenMP loops, oneDNN runs each product
// on the calling thread; outside one it uses OpenMP's threads.
#include <cstdint>

namespace xfer::ml {

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major with leading dimensions lda, ldb, ldc; op(A) is m x k
// (A is k x m when transpose_a), op(B) is k x n (B is n x k when transpose_b). Returns false when oneDNN refuses the
// call (it only does so for arguments outside its contract), so callers inside OpenMP regions can report it after.
[[nodiscard]] bool sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace xfer::ml
