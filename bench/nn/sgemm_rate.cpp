// The machine's fp32 matrix-multiply rate, the yardstick for the CNN benchmark: oneDNN's dnnl_sgemm on
// N x N matrices (default 4096) with T OpenMP threads (default 2), best of R repetitions after one warm-up.
// Prints one JSON object: {"n":..., "threads":..., "gflop_per_s":..., "seconds":...} on stdout.
// Usage: nn_sgemm_rate [N] [THREADS] [REPEATS]
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 4096;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  if (n <= 0 || threads <= 0 || repeats <= 0) {
    std::fprintf(stderr, "usage: nn_sgemm_rate [N>0] [THREADS>0] [REPEATS>0]\n");
    return 2;
  }
  omp_set_num_threads(threads);
  std::vector<float> a(n * n), b(n * n), c(n * n);
  std::mt19937 gen(42);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (auto* m : {&a, &b}) std::generate(m->begin(), m->end(), [&] { return dist(gen); });
  std::fill(c.begin(), c.end(), 0.f);

  double best = 1e30;
  for (int r = 0; r <= repeats; ++r) {  // r == 0 is the warm-up (first touch of c, oneDNN's JIT)
    const auto start = std::chrono::steady_clock::now();
    const dnnl_status_t status =
        dnnl_sgemm('N', 'N', n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (status != dnnl_success) {
      std::fprintf(stderr, "nn_sgemm_rate: dnnl_sgemm failed with status %d\n", static_cast<int>(status));
      return 1;
    }
    if (r > 0) best = std::min(best, seconds);
  }
  const double gflop = 2.0 * static_cast<double>(n) * n * n / 1e9;
  std::printf("{\"n\": %ld, \"threads\": %d, \"gflop_per_s\": %.1f, \"seconds\": %.4f}\n", n, threads, gflop / best,
              best);
  return 0;
}
