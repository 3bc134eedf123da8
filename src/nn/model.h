#pragma once
// The inference engine: a compiled, immutable Model and a per-run execution context Run (ncnn's Net/Extractor).
//
//   auto model = nn::Model::compile(nn::import_onnx("inception_v3.onnx"), {.outputs = {"layer"}});
//   nn::Run run(model);                      // one per thread; reuses its buffers across calls
//   std::vector<nn::Tensor> out = run.forward({{"input", images}});   // images: NCHW float32, C-order
//
// Compile runs the graph passes (cut after the requested outputs, Identity/Dropout removed, BatchNormalization
// folded into Conv, activations fused as oneDNN post-ops). Execution plans are built per input shape the first
// time that shape is run: constants folded (including Shape/Gather/Concat/Reshape chains, since the shapes are
// then concrete), oneDNN primitives created with format_tag::any so activations stay in blocked layouts from
// conv to conv, weights reordered once into the layout each primitive chose, and an arena memory plan computed
// so a Run touches the same activation buffers on every call. Ops oneDNN does not cover run on their plain
// reference kernels (nn/reference_ops.h); unsupported ops are an UnsupportedError at compile time.
//
// Thread safety: a Model may be shared by any number of threads; each thread uses its own Run.
// Tensors in and out are plain C-order (row-major) tensors in the graph's layout (NCHW for ONNX).
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nn/calibration.h"
#include "nn/graph.h"

namespace xfer::nn {

enum class Precision { fp32, bf16, int8 };
Precision precision_from_string(const std::string& s);  // "fp32" | "bf16" | "int8"; anything else is a UsageError
const char* to_string(Precision p);

struct CompileOptions {
  std::vector<std::string> outputs;    // value or node names; empty: the graph's own outputs
  Precision precision = Precision::fp32;  // bf16: oneDNN bf16 kernels, weights converted once at load
  // int8 (precision int8): the ranges of the values int8 kernels read and write (nn/calibration.h). Convs, pools
  // and concats whose values have a range run on oneDNN's int8 kernels (weights s8 per output channel, quantised
  // once); every other op runs in fp32 between dequantising and quantising reorders. Required for int8.
  std::shared_ptr<const Calibration> calibration;
  bool reference_only = false;         // run every node on its reference kernel (tests, debugging)
  bool optimize = true;                // the fusion passes; false keeps the graph as imported
  bool winograd = true;                // fp32 3x3 stride-1 convs by Winograd where oneDNN has it (~1e-6 rel. error)
};

struct Plan;
struct RunState;
struct WeightCache;

// Where a Run's time goes: every executed plan step timed, summed by what kind of step it was, over the forward()
// calls made while profiling (`model bench --profile`). Kinds are oneDNN primitive kinds ("matmul",
// "inner_product", "convolution", "softmax", "layer_normalization", "eltwise", "binary", "reorder", ...; a fused
// post-op counts as its primitive's), "reference kernel" (the engine's own), and "host/device copy".
struct StepTimes {
  double ms = 0;
  int64_t steps = 0;  // executions, over all runs
};
struct StepProfile {
  int64_t runs = 0;
  std::map<std::string, StepTimes> by_kind;
  // The graph op behind each step ("MatMul", "Softmax", "Transpose"); a step no node asked for is its kind in
  // parentheses: "(reorder)" between two primitives' layouts, "(host/device copy)" around a reference kernel.
  std::map<std::string, StepTimes> by_op;
  double total_ms() const;
};

class Model {
 public:
  static std::shared_ptr<const Model> compile(Graph graph, const CompileOptions& options = {});
  ~Model();

  // After the passes. Float weights that primitives absorbed may have no bytes (names and shapes stay).
  const Graph& graph() const { return graph_; }
  const CompileOptions& options() const { return options_; }
  const std::vector<ValueInfo>& inputs() const { return graph_.inputs; }
  const std::vector<ValueInfo>& outputs() const { return graph_.outputs; }

  // The plan for these input shapes, built on first use (internal; used by Run).
  std::shared_ptr<Plan> plan_for(const std::map<std::string, Tensor>& inputs, RunState& state,
                                 std::vector<Tensor>& outputs) const;

 private:
  Model() = default;
  void release_absorbed_weights(Plan& plan) const;
  void restore_released_weights() const;
  // Mutable only in its initializers' bytes, under mutex_: weights absorbed into primitive layouts are
  // released after a plan is built and restored before the next (graph() users read names and shapes).
  mutable Graph graph_;
  CompileOptions options_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<Plan>> plans_;  // by input-shape key
  mutable std::unique_ptr<WeightCache> weights_;                // reordered weights, shared by the plans
};

class Run {
 public:
  explicit Run(std::shared_ptr<const Model> model);
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // inputs by graph input name; returns the model's outputs in order. A single-input model also accepts "".
  std::vector<Tensor> forward(const std::map<std::string, Tensor>& inputs);
  // Convenience for one float32 input: `input` holds shape's element count values.
  std::vector<Tensor> forward(const float* input, const std::vector<int64_t>& shape);

  const Model& model() const { return *model_; }
  // Times every step of the following forward() calls into `profile` (nullptr: stop). Without a profile, forward()
  // runs its steps untimed.
  void set_profile(StepProfile* profile) { profile_ = profile; }
  // Nodes the last forward() ran as oneDNN primitives (the rest ran on reference kernels or were folded).
  std::vector<std::string> onednn_nodes() const;
  // Node name -> the oneDNN implementation that ran it (e.g. "jit_wino_4x3:avx512_core"), for the same nodes,
  // and "in place (no copy)" for concats whose inputs were written straight into the output.
  std::map<std::string, std::string> onednn_kernels() const;
  // The primitives of the last forward() that oneDNN dispatched to a naive reference implementation ("ref:any"),
  // each as "node 'name' (Op): impl" or "reorder [shape]: impl". Empty is what a fast plan looks like.
  std::vector<std::string> reference_primitives() const;
  // Node name -> the arithmetic it ran in at the last forward(): "int8" (an int8 oneDNN kernel read it), "bf16",
  // "fp32" (oneDNN) or "fp32-reference" (the engine's reference kernel). Folded and view-only nodes are absent.
  std::map<std::string, std::string> node_precisions() const;

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<RunState> state_;
  StepProfile* profile_ = nullptr;
};

// The operators of a graph the engine does not implement, each with how many nodes use it and the first one.
struct UnsupportedOp {
  std::string op_type;
  int64_t nodes = 0;
  std::string first_node;
};
std::vector<UnsupportedOp> unsupported_ops(const Graph& graph);

// Architecture facts for `model info`.
struct ModelStats {
  int64_t parameters = 0;       // elements of float initializers
  double flops_per_image = 0;   // 2 x multiply-adds of Conv/Gemm/MatMul at batch 1
  std::map<std::string, std::vector<int64_t>> shapes;  // every value's shape at batch 1
};
ModelStats model_stats(const std::shared_ptr<const Model>& model);

// Threads for oneDNN's OpenMP runtime (0: leave the default, all cores).
void set_threads(int threads);

// oneDNN's dispatched ISA (e.g. "avx512_core_bf16") after a primitive was created.
std::string effective_isa();

// What oneDNN's kernels can do on this CPU, from its effective ISA (which ONEDNN_MAX_CPU_ISA can lower).
struct CpuKernels {
  // Native bf16 dot products (avx512_core_bf16, AMX). Elsewhere oneDNN's bf16 is emulated or runs on its reference
  // kernels, slower than fp32, so Model::compile runs a bf16 request in fp32 (as OpenVINO's CPU plugin does).
  bool bf16 = false;
  // VNNI's u8 x s8 dot products. Without them oneDNN's int8 kernels add pairs of products in saturating int16, so
  // int8 weights keep 7 bits (oneDNN's int8 guide): 255 * 63 * 2 fits where 255 * 127 * 2 does not.
  bool vnni = false;
  // AVX-512 (avx512_core): oneDNN 2.x's fp32 Winograd convolution exists only there.
  bool avx512 = false;
};
CpuKernels cpu_kernels();

}  // namespace xfer::nn
