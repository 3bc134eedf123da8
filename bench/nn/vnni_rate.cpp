// The machine's instruction peaks, the yardsticks for int8 and bf16 inference: a loop of independent AVX-512
// vpdpbusd (VNNI: 64 u8 x s8 multiply-adds into 16 int32 lanes), vdpbf16ps (32 bf16 pairs into 16 fp32 lanes) and
// vfmadd231ps (16 fp32 multiply-adds) per thread, T OpenMP threads, best of R timed runs.
// Prints one JSON object on stdout: {"threads":..., "int8_gop_per_s":..., "bf16_gflop_per_s":..., "fp32_gflop_per_s":...}
// (an operation is a multiply or an add, as in GFLOP counts: one multiply-add is 2).
// Usage: nn_vnni_rate [THREADS] [REPEATS]
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr long kIterations = 20'000'000;  // per thread; 12 instructions each

// 12 independent accumulators hide the instructions' latency (4-5 cycles) behind their throughput.
// (GCC 12 warns falsely inside _mm512_reduce_add_ps.)
__attribute__((target("avx512f"))) float lanes_sum(__m512 s) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

template <typename Step>
double rate(int threads, int repeats, double ops_per_instruction, Step step) {
  double best = 0;
  for (int r = 0; r <= repeats; ++r) {  // r == 0 warms up (frequency, page faults)
    float sink = 0;
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += step(kIterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (sink == 12345.678f) std::printf(" ");  // keeps the loops' results alive
    if (r > 0) best = std::max(best, ops_per_instruction * 12.0 * kIterations * threads / seconds / 1e9);
  }
  return best;
}

__attribute__((target("avx512f,avx512vnni"))) float vnni_loop(long n) {
  __m512i acc[12];
  for (auto& a : acc) a = _mm512_set1_epi32(1);
  const __m512i x = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-2);
  for (long i = 0; i < n; ++i)
    for (auto& a : acc) a = _mm512_dpbusd_epi32(a, x, w);
  __m512i s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm512_add_epi32(s, acc[k]);
  alignas(64) int lanes[16];
  _mm512_store_si512(lanes, s);
  float total = 0;
  for (int v : lanes) total += static_cast<float>(v);
  return total;
}

__attribute__((target("avx512f,avx512bf16"))) float bf16_loop(long n) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  for (long i = 0; i < n; ++i)
    for (auto& a : acc) a = _mm512_dpbf16_ps(a, x, x);
  __m512 s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm512_add_ps(s, acc[k]);
  return lanes_sum(s);
}

__attribute__((target("avx512f"))) float fma_loop(long n) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const __m512 x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < n; ++i)
    for (auto& a : acc) a = _mm512_fmadd_ps(a, x, y);
  __m512 s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm512_add_ps(s, acc[k]);
  return lanes_sum(s);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  if (threads <= 0 || repeats <= 0) {
    std::fprintf(stderr, "usage: nn_vnni_rate [THREADS>0] [REPEATS>0]\n");
    return 2;
  }
  if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bf16")) {
    std::fprintf(stderr, "nn_vnni_rate: this CPU lacks AVX-512 VNNI or BF16\n");
    return 1;
  }
  const double int8 = rate(threads, repeats, 128.0, vnni_loop);  // 64 multiply-adds
  const double bf16 = rate(threads, repeats, 64.0, bf16_loop);    // 32 multiply-adds
  const double fp32 = rate(threads, repeats, 32.0, fma_loop);     // 16 multiply-adds
  std::printf("{\"threads\": %d, \"int8_gop_per_s\": %.1f, \"bf16_gflop_per_s\": %.1f, \"fp32_gflop_per_s\": %.1f}\n",
              threads, int8, bf16, fp32);
  return 0;
}
