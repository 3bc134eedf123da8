#pragma once
// The harness of the engine's kernel tests: a one-input graph built node by node, run on oneDNN (with or without
// the fusion passes) and on the reference kernels alone, compared element by element.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/reference_ops.h"

// Checks that mean something only on some CPUs skip elsewhere, saying why (ctest reports them as skipped, not
// passed). bf16: without native bf16, Model::compile runs a bf16 request in fp32. Winograd: oneDNN 2.x has it only
// on AVX-512. The AVX2 paths themselves are tested on any CPU by the *_avx2 ctest runs (ONEDNN_MAX_CPU_ISA=AVX2).
#define XFER_SKIP_WITHOUT_NATIVE_BF16()                                                                          \
  if (!::xfer::nn::cpu_kernels().bf16)                                                                            \
  GTEST_SKIP() << "no native bf16 on this CPU (oneDNN ISA " << ::xfer::nn::effective_isa() << "): bf16 runs in fp32"
#define XFER_SKIP_WITHOUT_AVX512()                                                                               \
  if (!::xfer::nn::cpu_kernels().avx512)                                                                          \
  GTEST_SKIP() << "oneDNN's Winograd convolution needs AVX-512 (this CPU: " << ::xfer::nn::effective_isa() << ")"

namespace xfer::nn::testing {

inline Tensor random_tensor(std::vector<int64_t> shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::zeros(DataType::float32, std::move(shape));
  for (int64_t i = 0; i < t.element_count(); ++i) t.mutable_data<float>()[i] = dist(rng);
  return t;
}

inline Node node(std::string op, std::vector<std::string> in, std::string out, std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = out;
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = {std::move(out)};
  n.attributes = std::move(attrs);
  return n;
}

struct Case {
  Graph g;
  Tensor x;
  std::vector<std::string> slow_primitives;  // after check(): what oneDNN ran on its naive ref: kernels
  Case(std::vector<int64_t> shape, uint32_t seed = 1) {
    g.source.format = "test";
    g.source.path = "test";
    g.source.opset = 13;
    g.inputs = {ValueInfo{"x", DataType::float32, shape}};
    x = random_tensor(shape, seed);
  }
  void weight(const std::string& name, std::vector<int64_t> shape, uint32_t seed, float lo = -0.5f, float hi = 0.5f) {
    g.initializers[name] = random_tensor(std::move(shape), seed, lo, hi);
  }
  // BatchNormalization parameters "scale", "shift", "mean", "var" (positive) for `channels` channels.
  void batch_norm_weights(int64_t channels) {
    weight("scale", {channels}, 2, 0.5f, 1.5f);
    weight("shift", {channels}, 3);
    weight("mean", {channels}, 4);
    weight("var", {channels}, 5, 0.1f, 2.0f);
  }
  void add(Node n) { g.nodes.push_back(std::move(n)); }
  void output(const std::string& name) { g.outputs = {ValueInfo{name, DataType::float32, {}}}; }

  // Runs the graph on oneDNN (with the fusion passes when `optimize`) and on the reference kernels alone;
  // expects `onednn_node` among the nodes oneDNN ran, and the outputs equal within rtol.
  void check(const std::string& onednn_node, bool optimize = false, double rtol = 1e-4,
             Precision precision = Precision::fp32) {
    CompileOptions fast;
    fast.optimize = optimize;
    fast.precision = precision;
    CompileOptions ref;
    ref.reference_only = true;
    ref.optimize = false;
    Run run_fast(Model::compile(g, fast)), run_ref(Model::compile(g, ref));
    auto got = run_fast.forward({{"x", x}}).at(0);
    auto ran = run_fast.onednn_nodes();
    slow_primitives = run_fast.reference_primitives();
    EXPECT_NE(std::find(ran.begin(), ran.end(), onednn_node), ran.end()) << onednn_node << " did not run on oneDNN";
    auto want = run_ref.forward({{"x", x}}).at(0);
    ASSERT_EQ(got.shape, want.shape);
    auto a = to_float_vector(got), b = to_float_vector(want);
    double scale = 0;
    for (float v : b) scale = std::max(scale, static_cast<double>(std::abs(v)));
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], rtol * std::max(scale, 1e-3)) << "element " << i << " of " << a.size();
    // A second run reuses the plan and the arena: same answer.
    auto again = to_float_vector(run_fast.forward({{"x", x}}).at(0));
    ASSERT_EQ(again, a);
  }
};

// The reorder steps of one run of the compiled graph (fusion passes on).
inline int reorders_in_a_run(const Case& c) {
  Run run(Model::compile(c.g, CompileOptions{}));
  StepProfile profile;
  run.set_profile(&profile);
  run.forward({{"x", c.x}});
  const auto reorders = profile.by_kind.find("reorder");
  return reorders == profile.by_kind.end() ? 0 : static_cast<int>(reorders->second.steps);
}

}  // namespace xfer::nn::testing
