#include "nn/model.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

#include "nn/errors.h"
#include "util/log.h"
#include "nn/passes.h"
#include "nn/plan.h"
#include "nn/plan/builder.h"
#include "nn/plan/profile.h"
#include "nn/plan/runtime.h"
#include "nn/reference_ops.h"

namespace xfer::nn {

namespace {

// Kernels name the node, op and reason ("node 'r' (Range): ... make 1e15 values"); a user running many files needs
// the file too. Called inside a catch block: rethrows the error being handled, prefixed with the file's path
// unless its message already names it, keeping its type (UnsupportedError is what `model info` reports apart).
[[noreturn]] void rethrow_naming_file(const std::string& path) {
  try {
    throw;
  } catch (const UnsupportedError& e) {
    if (std::string(e.what()).find(path) != std::string::npos) throw;
    throw UnsupportedError(path + ": " + e.what());
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    if (std::string(e.what()).find(path) != std::string::npos) throw;
    throw Error(path + ": " + e.what());
  }
}

std::string shape_key(const std::map<std::string, Tensor>& inputs) {
  std::string key;
  for (const auto& [name, t] : inputs) key += fmt::format("{}:{}:{};", name, static_cast<int>(t.type), fmt::join(t.shape, "x"));
  return key;
}

}  // namespace

Precision precision_from_string(const std::string& s) {
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  if (s == "int8") return Precision::int8;
  usage_fail("precision must be fp32, bf16 or int8, not '{}'", s);
}

const char* to_string(Precision p) { return p == Precision::bf16 ? "bf16" : p == Precision::int8 ? "int8" : "fp32"; }

std::vector<UnsupportedOp> unsupported_ops(const Graph& g) {
  std::vector<UnsupportedOp> found;
  for (const auto& n : g.nodes) {
    if (is_supported_op(n.op_type)) continue;
    auto it = std::find_if(found.begin(), found.end(), [&](const UnsupportedOp& u) { return u.op_type == n.op_type; });
    if (it == found.end()) found.push_back({n.op_type, 1, n.name});
    else ++it->nodes;
  }
  return found;
}

namespace {

// Every operator the engine lacks, in one message: a user learns at once what a model needs.
void check_unsupported(const Graph& g) {
  const auto missing = unsupported_ops(g);
  if (missing.empty()) return;
  std::vector<std::string> parts;
  for (const auto& u : missing)
    parts.push_back(u.nodes == 1 ? fmt::format("{} (node '{}')", u.op_type, u.first_node)
                                 : fmt::format("{} ({} nodes, e.g. '{}')", u.op_type, u.nodes, u.first_node));
  unsupported("{}: {} not supported by the engine (opset {}): {}", g.source.path,
              missing.size() == 1 ? "an operator is" : fmt::format("{} operators are", missing.size()),
              g.source.opset, fmt::join(parts, ", "));
}

}  // namespace

std::shared_ptr<const Model> Model::compile(Graph graph, const CompileOptions& options) {
  if (options.precision == Precision::int8 && !options.calibration)
    fail("{}: int8 needs a calibration (the activation ranges of the model's values, nn/calibration.h)", graph.source.path);
  std::shared_ptr<Model> model(new Model());
  model->options_ = options;
  if (options.precision == Precision::bf16 && !cpu_kernels().bf16) {
    spdlog::warn("{}: bf16 requested, but this CPU (oneDNN ISA {}) has no native bf16 instructions; running in fp32, "
                 "which is faster here", graph.source.path, effective_isa());
    model->options_.precision = Precision::fp32;
  }
  cut_graph(graph, options.outputs);
  check_unsupported(graph);
  if (options.optimize) simplify_for_inference(graph);
  model->graph_ = std::move(graph);
  return model;
}

// Weights reordered into primitive layouts, shared by every plan of the model.
struct WeightCache {
  WeightCopies by_name;
  std::vector<std::string> released;  // initializers whose plain bytes were dropped (see release_absorbed_weights)
};

// Once a plan is built, a float weight that only primitives read and that has a blocked fp32 copy is held twice:
// drop the plain bytes (about the model's size: ResNet50 100 MB) and rebuild them from the copy when another
// plan is built. Weights a reference kernel reads, and those held only as Winograd or bf16 copies, stay.
void Model::release_absorbed_weights(Plan& plan) const {
  std::set<int> read_on_host;
  for (const auto& step : plan.steps)
    if (step.kind == Step::Kind::reference || step.kind == Step::Kind::to_device)
      read_on_host.insert(step.inputs.begin(), step.inputs.end());
  for (const auto& [name, slot] : plan.constant_slots) {
    Tensor& t = graph_.initializers.at(name);
    if (t.type != DataType::float32 || !t.bytes || read_on_host.count(slot) || !has_reversible_copy(weights_->by_name, name))
      continue;
    t.bytes.reset();
    plan.slots[slot].value.bytes.reset();
    weights_->released.push_back(name);
  }
  malloc_trim(0);  // the freed weights sat in glibc's heap (allocated after its mmap threshold had grown)
}

void Model::restore_released_weights() const {
  dnnl::stream stream(cpu_engine());
  for (const auto& name : weights_->released) {
    Tensor& t = graph_.initializers.at(name);
    const auto& copies = weights_->by_name.at(name);
    auto from = std::find_if(copies.begin(), copies.end(), [](const CachedWeight& c) { return c.reversible(); });
    t.bytes = std::make_shared<std::vector<unsigned char>>(from->source.get_size());
    memory plain(from->source, cpu_engine(), t.bytes->data());
    dnnl::reorder(from->mem, plain).execute(stream, const_cast<memory&>(from->mem), plain);
  }
  stream.wait();
  weights_->released.clear();
}

Model::~Model() = default;

std::shared_ptr<Plan> Model::plan_for(const std::map<std::string, Tensor>& inputs, RunState& state,
                                      std::vector<Tensor>& outputs) const {
  std::string key = shape_key(inputs);
  std::lock_guard lock(mutex_);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  auto plan = std::make_shared<Plan>();
  state.bound = nullptr;
  state.memories.clear();
  state.host.clear();
  if (!weights_) weights_ = std::make_unique<WeightCache>();
  restore_released_weights();
  // Each weight's freed bytes handed back at once (glibc keeps heap pages otherwise), before the next weight's copy
  // is allocated: after every release, not in batches, measured lowest (peak RSS, batch 1: ViT-B/32 387 MB against
  // 428 trimming per 64 MB, Swin-T 257 against 280, VGG11 1047 against 1079), for a few ms per weight at load.
  Builder builder(graph_, options_, *plan, state, weights_->by_name, [&](const std::string& name) {
    graph_.initializers.at(name).bytes.reset();
    weights_->released.push_back(name);
    malloc_trim(0);
  });
  try {
    outputs = builder.build(inputs);
  } catch (const dnnl::error& e) {
    fail("{}: oneDNN failed: {}", graph_.source.path, e.what());
  } catch (const Error&) {
    rethrow_naming_file(graph_.source.path);
  }
  state.bound = nullptr;
  plans_[key] = plan;
  release_absorbed_weights(*plan);
  return plan;
}

Run::Run(std::shared_ptr<const Model> model) : model_(std::move(model)), state_(std::make_unique<RunState>()) {}
Run::~Run() = default;

std::vector<Tensor> Run::forward(const std::map<std::string, Tensor>& given) {
  const Graph& g = model_->graph();
  std::map<std::string, Tensor> inputs;
  for (const auto& [name, t] : given) {
    std::string real = name.empty() && g.inputs.size() == 1 ? g.inputs[0].name : name;
    inputs[real] = t;
  }
  for (const auto& in : g.inputs) {
    auto it = inputs.find(in.name);
    if (it == inputs.end()) fail("{}: input '{}' was not given", g.source.path, in.name);
    const Tensor& t = it->second;
    if (t.type != in.type) fail("{}: input '{}' must be {}, got {}", g.source.path, in.name, to_string(in.type), to_string(t.type));
    if (!in.shape.empty()) {
      bool ok = in.shape.size() == t.shape.size();
      for (size_t i = 0; ok && i < in.shape.size(); ++i) ok = in.shape[i] < 0 || in.shape[i] == t.shape[i];
      if (!ok) fail("{}: input '{}' must have shape [{}] (-1: any), got [{}]", g.source.path, in.name,
                    fmt::join(in.shape, ","), fmt::join(t.shape, ","));
    }
    if (!t.bytes || t.bytes->size() != static_cast<size_t>(t.element_count()) * element_size(t.type))
      fail("{}: input '{}' has the wrong number of bytes", g.source.path, in.name);
  }
  for (const auto& [name, t] : inputs) {
    bool declared = false;
    for (const auto& in : g.inputs) declared = declared || in.name == name;
    if (!declared) fail("{}: the model has no input '{}'", g.source.path, name);
  }
  std::vector<Tensor> outputs;
  std::shared_ptr<Plan> plan = model_->plan_for(inputs, *state_, outputs);
  state_->last = plan;
  outputs.clear();  // the build pass's outputs are not computed by the oneDNN steps: run the plan for real
  bind(*plan, *state_);
  for (const auto& [name, s] : plan->input_slots) state_->host[s] = inputs.at(name);
  try {
    if (profile_) {
      execute_profiled(*plan, *state_, g.source.opset, *profile_);
    } else {
      for (const auto& step : plan->steps) execute_step(*plan, step, *state_, g.source.opset);
    }
    state_->stream.wait();
  } catch (const dnnl::error& e) {
    fail("{}: oneDNN failed: {}", g.source.path, e.what());
  } catch (const Error&) {
    rethrow_naming_file(g.source.path);
  }
  for (int s : plan->output_slots) outputs.push_back(plan->slots[s].constant ? plan->slots[s].value : state_->host[s]);
  return outputs;
}

std::vector<std::string> Run::onednn_nodes() const {
  std::vector<std::string> names;
  if (!state_->last) return names;
  for (const auto& step : state_->last->steps)
    if (step.kind == Step::Kind::primitive && step.node) names.push_back(step.node->name);
  return names;
}

std::map<std::string, std::string> Run::onednn_kernels() const {
  std::map<std::string, std::string> kernels;
  if (!state_->last) return kernels;
  for (const auto& step : state_->last->steps) {
    if (step.kind == Step::Kind::in_place && step.node) kernels[step.node->name] = "in place (no copy)";
    if (step.kind != Step::Kind::primitive || !step.node) continue;
    const char* impl = nullptr;
    if (dnnl_primitive_desc_query(step.prim.get_primitive_desc(), dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
        impl)
      kernels[step.node->name] = impl;
  }
  return kernels;
}

std::map<std::string, std::string> Run::node_precisions() const {
  std::map<std::string, std::string> found;
  if (!state_->last) return found;
  const Plan& plan = *state_->last;
  for (const auto& step : plan.steps) {
    if (!step.node) continue;
    if (step.kind == Step::Kind::reference) {
      found[step.node->name] = "fp32-reference";
      continue;
    }
    if (step.kind != Step::Kind::primitive && step.kind != Step::Kind::in_place) continue;
    std::string precision = "fp32";
    for (const auto& [arg, slot] : step.args) {
      if (arg != DNNL_ARG_SRC && arg != DNNL_ARG_FROM && arg < DNNL_ARG_MULTIPLE_SRC) continue;
      if (arg >= DNNL_ARG_MULTIPLE_SRC + 1024) continue;
      const auto type = plan.slots[slot].desc.data_type();
      if (type == dnnl::memory::data_type::s8 || type == dnnl::memory::data_type::u8) precision = "int8";
      else if (type == dnnl::memory::data_type::bf16) precision = "bf16";
    }
    found[step.node->name] = precision;
  }
  return found;
}

std::vector<std::string> Run::reference_primitives() const {
  std::vector<std::string> found;
  if (!state_->last) return found;
  for (const auto& step : state_->last->steps) {
    if (step.kind != Step::Kind::primitive && step.kind != Step::Kind::reorder) continue;
    const char* impl = nullptr;
    if (dnnl_primitive_desc_query(step.prim.get_primitive_desc(), dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
        !impl || std::string(impl).rfind("ref", 0) != 0)
      continue;
    if (step.node) found.push_back(fmt::format("node '{}' ({}): {}", step.node->name, step.node->op_type, impl));
    else {
      int to = -1;
      for (const auto& [arg, slot] : step.args) if (arg == DNNL_ARG_TO) to = slot;
      std::vector<int64_t> shape = to >= 0 ? state_->last->slots[to].shape : std::vector<int64_t>{};
      found.push_back(fmt::format("reorder [{}]: {}", fmt::join(shape, ","), impl));
    }
  }
  return found;
}

std::vector<Tensor> Run::forward(const float* input, const std::vector<int64_t>& shape) {
  const Graph& g = model_->graph();
  if (g.inputs.size() != 1) fail("{}: the model has {} inputs; name them", g.source.path, g.inputs.size());
  return forward({{g.inputs[0].name, make_float_tensor(shape, input)}});
}

ModelStats model_stats(const std::shared_ptr<const Model>& model) {
  ModelStats stats;
  const Graph& g = model->graph();
  for (const auto& [name, t] : g.initializers)
    if (t.type == DataType::float32) stats.parameters += t.element_count();
  // Shapes at batch 1: run the graph on its reference... no: on the engine, once, on zeros.
  CompileOptions all = model->options();
  all.outputs.clear();
  Graph shapes_graph = g;
  std::vector<ValueInfo> outs;
  for (const auto& n : shapes_graph.nodes)
    for (const auto& o : n.outputs) if (!o.empty()) outs.push_back(ValueInfo{o, DataType::float32, {}});
  shapes_graph.outputs = outs;
  CompileOptions opt;
  opt.optimize = false;
  opt.precision = Precision::fp32;
  auto probe = Model::compile(shapes_graph, opt);
  std::map<std::string, Tensor> inputs;
  for (const auto& in : g.inputs) {
    std::vector<int64_t> shape = in.shape;
    for (size_t i = 0; i < shape.size(); ++i)
      if (shape[i] < 0) {
        if (i == 0) shape[i] = 1;
        else fail("{}: input '{}' has an unknown dimension {}; give the model a fixed input size", g.source.path, in.name, i);
      }
    inputs[in.name] = Tensor::zeros(in.type, shape);
  }
  Run run(probe);
  auto values = run.forward(inputs);
  for (size_t i = 0; i < outs.size(); ++i) stats.shapes[outs[i].name] = values[i].shape;
  for (const auto& in : g.inputs) stats.shapes[in.name] = inputs[in.name].shape;
  auto count = [](const std::vector<int64_t>& s) { int64_t c = 1; for (auto d : s) c *= d; return c; };
  for (const auto& n : g.nodes) {
    if (n.outputs.empty() || !stats.shapes.count(n.outputs[0])) continue;
    const auto& y = stats.shapes[n.outputs[0]];
    if (n.op_type == "Conv" && n.inputs.size() > 1 && g.initializers.count(n.inputs[1])) {
      const auto& w = g.initializers.at(n.inputs[1]).shape;
      stats.flops_per_image += 2.0 * static_cast<double>(count(y)) * static_cast<double>(count(w) / std::max<int64_t>(w[0], 1));
    } else if ((n.op_type == "Gemm" || n.op_type == "MatMul") && stats.shapes.count(n.inputs[0])) {
      const auto& a = stats.shapes[n.inputs[0]];
      stats.flops_per_image += 2.0 * static_cast<double>(count(y)) * static_cast<double>(a.empty() ? 1 : a.back());
    }
  }
  return stats;
}

void set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

std::string effective_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    default: return "other";
  }
}

CpuKernels cpu_kernels() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  auto has = [isa](dnnl_cpu_isa_t feature) { return (isa & feature) == static_cast<unsigned>(feature); };
  CpuKernels k;
  k.bf16 = has(dnnl_cpu_isa_avx512_core_bf16);
  k.vnni = has(dnnl_cpu_isa_avx512_core_vnni) || has(dnnl_cpu_isa_avx2_vnni);
  k.avx512 = has(dnnl_cpu_isa_avx512_core);
  return k;
}

}  // namespace xfer::nn
