#pragma once
// Eigen hands its GEMMs to OpenBLAS (EIGEN_USE_BLAS, runtime-dispatched kernels); our own OpenMP loop over row
// blocks is the parallel level, so OpenBLAS runs single-threaded while we train or predict. The setting is
// process-wide: callers that run fits on several threads at once (cross-validation) hold one guard around all of
// them, so that the guards inside each fit save and restore the same value.
#include <cblas.h>

namespace xfer::ml {

class ScopedSingleThreadedBlas {
 public:
  ScopedSingleThreadedBlas() : previous_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~ScopedSingleThreadedBlas() { openblas_set_num_threads(previous_); }
  ScopedSingleThreadedBlas(const ScopedSingleThreadedBlas&) = delete;
  ScopedSingleThreadedBlas& operator=(const ScopedSingleThreadedBlas&) = delete;

 private:
  int previous_;
};

}  // namespace xfer::ml
