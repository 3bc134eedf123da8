// The allreduce of a training step, timed under mpirun: xfer's communicator (reduce to rank 0, then broadcast,
// so every rank holds bit-identical sums) beside OpenMPI's own MPI_Allreduce on the same buffer, for the
// gradient sizes of the models xfer trains (features x classes + intercepts doubles). Rank 0 prints one JSON line
// per size: microseconds per call for both and their ratio.
//   mpirun -np 2 build/bench/dist/allreduce_bench
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "dist/launcher.h"
#include "dist/mpi_session.h"

namespace {

template <typename F>
double microseconds_per_call(F&& call, int calls) {
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) call();
  MPI_Barrier(MPI_COMM_WORLD);
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / calls;
}

}  // namespace

int main(int argc, char** argv) {
  const auto launch = xfer::dist::detect_launcher();
  if (!launch) {
    std::fprintf(stderr, "run me under mpirun, e.g. mpirun -np 2 %s\n", argv[0]);
    return 2;
  }
  xfer::dist::MpiSession session(&argc, &argv, *launch);
  {
    auto comm = session.world();
    // 785 x 10: pixels on Fashion-MNIST; 769 x 10: InceptionV3 mixed5; 2049 x 2: the chest X-ray pipeline;
    // 2049 x 1000: an ImageNet-sized head.
    for (const size_t n : {size_t{7850}, size_t{7690}, size_t{4098}, size_t{2049000}}) {
      std::vector<double> ours(n, 1.0 / (comm->rank() + 1)), theirs(n, 1.0 / (comm->rank() + 1));
      const int calls = n > 100000 ? 20 : 2000;
      // Best of 3 for each, interleaved: the machine drifts.
      double best_ours = 1e30, best_mpi = 1e30;
      for (int round = 0; round < 3; ++round) {
        best_ours = std::min(best_ours, microseconds_per_call([&] { comm->allreduce_sum(ours.data(), n); }, calls));
        best_mpi = std::min(best_mpi, microseconds_per_call(
                                          [&] {
                                            MPI_Allreduce(MPI_IN_PLACE, theirs.data(), static_cast<int>(n), MPI_DOUBLE,
                                                          MPI_SUM, MPI_COMM_WORLD);
                                          },
                                          calls));
      }
      if (comm->rank() == 0)
        std::printf("{\"doubles\": %zu, \"ranks\": %d, \"xfer_us\": %.2f, \"mpi_allreduce_us\": %.2f, \"ratio\": %.3f}\n",
                    n, comm->size(), best_ours, best_mpi, best_ours / best_mpi);
    }
  }
  return 0;
}
