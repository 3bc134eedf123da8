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
#include "nn/reference_ops.h"

namespace xfer::nn {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

tag plain_tag(size_t rank) {
  switch (rank) {
    case 0:
    case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    case 6: return tag::abcdef;
    default: return tag::undef;
  }
}

memory::dims dims_of(const std::vector<int64_t>& shape) {
  if (shape.empty()) return {1};
  return memory::dims(shape.begin(), shape.end());
}

memory::desc plain_desc(const std::vector<int64_t>& shape, dt type = dt::f32) {
  return memory::desc(dims_of(shape), type, plain_tag(shape.size()));
}

std::string shape_key(const std::map<std::string, Tensor>& inputs) {
  std::string key;
  for (const auto& [name, t] : inputs) key += fmt::format("{}:{}:{};", name, static_cast<int>(t.type), fmt::join(t.shape, "x"));
  return key;
}

struct FreeDeleter {
  void operator()(unsigned char* p) const { std::free(p); }
};

}  // namespace

Precision precision_from_string(const std::string& s) {
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  usage_fail("precision must be fp32 or bf16, not '{}'", s);
}

const char* to_string(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

struct RunState {
  dnnl::stream stream{cpu_engine()};
  const Plan* bound = nullptr;
  std::shared_ptr<Plan> last;  // the plan of the last forward()
  std::unique_ptr<unsigned char, FreeDeleter> arena;
  size_t arena_size = 0;
  std::vector<memory> memories;  // per slot (device)
  std::vector<Tensor> host;      // per slot (host)
};

namespace {

void execute_step(const Plan& plan, const Step& step, RunState& st, int64_t opset) {
  switch (step.kind) {
    case Step::Kind::reference: {
      std::vector<const Tensor*> ins;
      for (int s : step.inputs) ins.push_back(s < 0 ? nullptr : plan.slots[s].constant ? &plan.slots[s].value : &st.host[s]);
      auto outs = run_reference(*step.node, ins, opset);
      for (size_t i = 0; i < step.outputs.size(); ++i)
        if (step.outputs[i] >= 0) st.host[step.outputs[i]] = std::move(outs.at(i));
      break;
    }
    case Step::Kind::to_device: {
      int h = step.inputs[0], d = step.outputs[0];
      const Slot& slot = plan.slots[d];
      const Tensor& t = plan.slots[h].constant ? plan.slots[h].value : st.host[h];
      if (t.shape != slot.shape && !(t.shape.empty() && slot.shape.size() <= 1))
        fail("value of shape [{}] where the plan expects [{}]: data-dependent shapes are not supported",
             fmt::join(t.shape, ","), fmt::join(slot.shape, ","));
      st.memories[d] = memory(slot.desc, cpu_engine(), const_cast<unsigned char*>(t.bytes->data()));
      break;
    }
    case Step::Kind::to_host: {
      int d = step.inputs[0], h = step.outputs[0];
      Tensor t = Tensor::zeros(DataType::float32, plan.slots[h].shape);
      memory dst(plain_desc(plan.slots[h].shape), cpu_engine(), t.bytes->data());
      dnnl::reorder(st.memories[d], dst).execute(st.stream, st.memories[d], dst);
      st.stream.wait();
      st.host[h] = std::move(t);
      break;
    }
    case Step::Kind::in_place:  // its inputs' producers already wrote the output
      break;
    case Step::Kind::reorder:
    case Step::Kind::primitive: {
      std::unordered_map<int, memory> args;
      for (const auto& [arg, s] : step.args) {
        int root = plan.slots[s].alias_device;
        args[arg] = root < 0 ? st.memories[s] : memory(plan.slots[s].desc, cpu_engine(), st.memories[root].get_data_handle());
      }
      for (const auto& [arg, m] : step.const_args) args[arg] = m;
      step.prim.execute(st.stream, args);
      break;
    }
  }
}

void bind(const Plan& plan, RunState& st) {
  if (st.bound == &plan) return;
  if (st.arena_size < plan.arena_bytes) {
    auto* p = static_cast<unsigned char*>(std::aligned_alloc(4096, (plan.arena_bytes + 4095) / 4096 * 4096));
    if (!p) fail("cannot allocate {} MB of activation memory", plan.arena_bytes >> 20);
    std::memset(p, 0, plan.arena_bytes);  // touch every page once, here, not inside the timed runs
    st.arena.reset(p);
    st.arena_size = plan.arena_bytes;
  }
  st.memories.assign(plan.slots.size(), memory());
  st.host.assign(plan.slots.size(), Tensor());
  for (size_t i = 0; i < plan.slots.size(); ++i) {
    const Slot& s = plan.slots[i];
    if (s.device && s.alias_host < 0 && s.alias_device < 0)
      st.memories[i] = memory(s.desc, cpu_engine(), st.arena.get() + arena_offset(plan, static_cast<int>(i)));
  }
  st.bound = &plan;
}

// A weight reordered into the layout a primitive chose, and the plain layout it was read from.
struct CachedWeight {
  memory::desc source;  // dims and tag of the weight Tensor's bytes as the primitive reads them
  memory::desc desc;
  memory mem;
  // A blocked fp32 copy holds every value, so the plain weight can be rebuilt from it by a reorder
  // (Winograd's transformed weights and bf16 copies cannot).
  bool reversible() const { return desc.data_type() == dt::f32 && desc.data.format_kind == dnnl_blocked; }
};
using WeightCopies = std::map<std::string, std::vector<CachedWeight>>;

// Builds a plan while running it once on real inputs: shapes are concrete, constants fold as they appear.
class Builder {
 public:
  Builder(const Graph& g, const CompileOptions& opt, Plan& plan, RunState& st,
          WeightCopies& weight_cache)
      : g_(g), opt_(opt), plan_(plan), st_(st), weight_cache_(weight_cache),
        compute_dt_(opt.precision == Precision::bf16 ? dt::bf16 : dt::f32) {}

  std::vector<Tensor> build(const std::map<std::string, Tensor>& inputs) {
    for (const auto& [name, t] : g_.initializers) {
      int s = new_slot(false, t.shape, t.type);
      plan_.slots[s].constant = true;
      plan_.slots[s].value = t;
      host_[name] = s;
      plan_.constant_slots[name] = s;
    }
    for (const auto& [name, t] : inputs) {
      int s = new_slot(false, t.shape, t.type);
      st_.host[s] = t;
      host_[name] = s;
      plan_.input_slots[name] = s;
    }
    for (const auto& node : g_.nodes) add_node(node);
    std::vector<Tensor> outputs;
    for (const auto& out : g_.outputs) {
      int s = host_form(out.name);
      plan_.output_slots.push_back(s);
      outputs.push_back(plan_.slots[s].constant ? plan_.slots[s].value : st_.host[s]);
    }
    st_.stream.wait();
    place_concats_in_place(plan_);
    plan_memory(plan_);
    return outputs;
  }

 private:
  const Graph& g_;
  const CompileOptions& opt_;
  Plan& plan_;
  RunState& st_;
  WeightCopies& weight_cache_;
  dt compute_dt_;
  std::map<std::string, int> host_, device_;
  std::map<int, std::vector<int>> converted_;  // device slot -> its reordered copies

  int new_slot(bool device, std::vector<int64_t> shape, DataType type) {
    Slot s;
    s.device = device;
    s.shape = std::move(shape);
    s.type = type;
    plan_.slots.push_back(std::move(s));
    st_.memories.emplace_back();
    st_.host.emplace_back();
    return static_cast<int>(plan_.slots.size() - 1);
  }

  int new_device_slot(const memory::desc& desc, const std::vector<int64_t>& shape) {
    int s = new_slot(true, shape, DataType::float32);
    plan_.slots[s].desc = desc;
    st_.memories[s] = memory(desc, cpu_engine());  // untouched while building: no resident pages
    return s;
  }

  // Host-side steps run while building (reference kernels need real shapes); oneDNN steps only get their
  // primitives here and first run on the arena, so building never touches a second copy of every activation.
  void add_step(Step step) {
    plan_.steps.push_back(std::move(step));
    const Step& added = plan_.steps.back();
    if (added.kind != Step::Kind::primitive && added.kind != Step::Kind::reorder)
      execute_step(plan_, added, st_, g_.source.opset);
  }

  bool known(const std::string& name) const { return host_.count(name) || device_.count(name); }
  bool is_constant(const std::string& name) const {
    auto it = host_.find(name);
    return it != host_.end() && plan_.slots[it->second].constant;
  }
  std::vector<int64_t> shape_of(const std::string& name) const {
    auto it = host_.find(name);
    if (it != host_.end()) return plan_.slots[it->second].constant ? plan_.slots[it->second].value.shape : st_.host[it->second].shape;
    return plan_.slots[device_.at(name)].shape;
  }
  DataType type_of(const std::string& name) const {
    auto it = host_.find(name);
    if (it != host_.end()) return plan_.slots[it->second].constant ? plan_.slots[it->second].value.type : st_.host[it->second].type;
    return DataType::float32;
  }
  // By value (shares the bytes): slot storage moves when slots are added.
  Tensor constant(const std::string& name) const { return plan_.slots[host_.at(name)].value; }

  int host_form(const std::string& name) {
    if (auto it = host_.find(name); it != host_.end()) return it->second;
    int d = device_.at(name);
    int h = new_slot(false, plan_.slots[d].shape, DataType::float32);
    Step step;
    step.kind = Step::Kind::to_host;
    step.inputs = {d};
    step.outputs = {h};
    add_step(std::move(step));
    host_[name] = h;
    return h;
  }

  int device_form(const std::string& name) {
    if (auto it = device_.find(name); it != device_.end()) return it->second;
    int h = host_.at(name);
    const auto shape = shape_of(name);
    int d = new_slot(true, shape, DataType::float32);
    plan_.slots[d].desc = plain_desc(shape);
    plan_.slots[d].alias_host = h;
    Step step;
    step.kind = Step::Kind::to_device;
    step.inputs = {h};
    step.outputs = {d};
    add_step(std::move(step));
    device_[name] = d;
    return d;
  }

  // The value in exactly `desc` (layout and data type), reordered once per distinct desc.
  int device_as(const std::string& name, const memory::desc& desc) {
    int s = device_form(name);
    if (plan_.slots[s].desc == desc) return s;
    for (int c : converted_[s]) if (plan_.slots[c].desc == desc) return c;
    int d = new_device_slot(desc, plan_.slots[s].shape);
    Step step;
    step.kind = Step::Kind::reorder;
    step.prim = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), plan_.slots[s].desc, cpu_engine(), desc));
    step.args = {{DNNL_ARG_FROM, s}, {DNNL_ARG_TO, d}};
    add_step(std::move(step));
    converted_[s].push_back(d);
    return d;
  }

  // A constant tensor reordered once into `desc` (cached across plans: weights do not change).
  memory weights_as(const std::string& key, const Tensor& t, const memory::dims& dims, tag plain, const memory::desc& desc) {
    auto& cached = weight_cache_[key];
    for (auto& c : cached) if (c.desc == desc) return c.mem;
    memory::desc source(dims, dt::f32, plain);
    memory src(source, cpu_engine(), const_cast<unsigned char*>(t.bytes->data()));
    memory dst(desc, cpu_engine());
    dnnl::stream s(cpu_engine());
    dnnl::reorder(src, dst).execute(s, src, dst);
    s.wait();
    cached.push_back({source, desc, dst});
    return dst;
  }

  void add_node(const Node& node) {
    // A node without outputs (legal protobuf, meaningless graph) computes nothing anyone can read.
    if (std::all_of(node.outputs.begin(), node.outputs.end(), [](const std::string& o) { return o.empty(); })) return;
    for (const auto& in : node.inputs)
      if (!in.empty() && !known(in)) fail("node '{}' ({}): input '{}' is not available", node.name, node.op_type, in);
    bool all_constant = true;
    for (const auto& in : node.inputs) all_constant = all_constant && (in.empty() || is_constant(in));
    if (node.op_type == "Shape" || all_constant) return fold(node);
    if (!opt_.reference_only) {
      try {
        if (try_device(node)) return;
      } catch (const dnnl::error& e) {
        // oneDNN has no kernel for this case (an unusual layout or size): the reference kernel computes it.
        spdlog::debug("node '{}' ({}): oneDNN declined ({}); using the reference kernel", node.name, node.op_type, e.what());
      }
    }
    add_reference(node);
  }

  void fold(const Node& node) {
    std::vector<Tensor> shape_only;
    std::vector<const Tensor*> ins;
    shape_only.reserve(node.inputs.size());
    for (const auto& in : node.inputs) {
      if (in.empty()) { ins.push_back(nullptr); continue; }
      if (is_constant(in)) {
        shape_only.push_back(constant(in));
      } else {
        Tensor t;  // Shape reads only the shape
        t.shape = shape_of(in);
        shape_only.push_back(t);
      }
      ins.push_back(&shape_only.back());
    }
    auto outs = run_reference(node, ins, g_.source.opset);
    for (size_t i = 0; i < node.outputs.size() && i < outs.size(); ++i) {
      if (node.outputs[i].empty()) continue;
      int s = new_slot(false, outs[i].shape, outs[i].type);
      plan_.slots[s].constant = true;
      plan_.slots[s].value = outs[i];
      host_[node.outputs[i]] = s;
    }
  }

  void add_reference(const Node& node) {
    Step step;
    step.kind = Step::Kind::reference;
    step.node = &node;
    for (const auto& in : node.inputs) step.inputs.push_back(in.empty() ? -1 : host_form(in));
    for (const auto& out : node.outputs) {
      int s = out.empty() ? -1 : new_slot(false, {}, DataType::float32);
      step.outputs.push_back(s);
    }
    add_step(std::move(step));
    const Step& done = plan_.steps.back();
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) continue;
      int s = done.outputs[i];
      plan_.slots[s].shape = st_.host[s].shape;
      plan_.slots[s].type = st_.host[s].type;
      host_[node.outputs[i]] = s;
    }
  }

  bool float_input(const std::string& name) const { return !name.empty() && type_of(name) == DataType::float32; }

  // A node's fused tail as oneDNN post-ops: a binary add reading `residual` (a conv's residual, a pool's moved
  // bias), then the activation.
  dnnl::primitive_attr activation_attr(const Node& node, const memory::desc* residual = nullptr) const {
    dnnl::primitive_attr attr;
    // The conv's scratch space (Winograd's transformed tiles: up to 450 MB at batch 32) comes from the arena,
    // where it shares bytes with activations that are dead while the conv runs, instead of a separate
    // library-owned buffer sized for the largest conv.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    if (residual) ops.append_binary(dnnl::algorithm::binary_add, *residual);
    std::string act = node.attr_string("_activation", "");
    if (act.empty()) {
      if (residual) attr.set_post_ops(ops);
      return attr;
    }
    float alpha = node.attr_float("_alpha", 0), beta = node.attr_float("_beta", 0);
    if (act == "Relu") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    else if (act == "LeakyRelu") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, alpha, 0.0f);
    else if (act == "Clip") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip_v2, std::max(alpha, -3.4e38f), std::min(beta, 3.4e38f));
    else if (act == "Sigmoid") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f);
    else if (act == "Tanh") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f);
    else if (act == "HardSwish") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f);
    else if (act == "HardSigmoid") {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, alpha, beta);
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip_v2, 0.0f, 1.0f);
    } else {
      fail("node '{}': unknown fused activation '{}'", node.name, act);
    }
    attr.set_post_ops(ops);
    return attr;
  }

  void add_primitive(const Node& node, dnnl::primitive prim, std::vector<std::pair<int, int>> args,
                     std::vector<std::pair<int, memory>> const_args, int out_slot) {
    Step step;
    step.kind = Step::Kind::primitive;
    step.node = &node;
    step.prim = std::move(prim);
    step.args = std::move(args);
    step.const_args = std::move(const_args);
    step.outputs = {out_slot};
    add_step(std::move(step));
    device_[node.outputs[0]] = out_slot;
  }

  bool try_device(const Node& node) {
    const std::string& op = node.op_type;
    if (node.inputs.empty() || !float_input(node.inputs[0])) return false;
    if (op == "Conv") return conv(node);
    if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GlobalMaxPool") return pool(node);
    if (op == "Concat") return concat(node);
    if (op == "Gemm" || op == "MatMul") return inner_product(node);
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return binary(node);
    if (op == "Relu" || op == "LeakyRelu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish" || op == "Clip") return eltwise(node);
    if (op == "LRN") return lrn(node);
    if (op == "BatchNormalization") return batch_norm(node);
    if (op == "Transpose") return transpose(node);
    return false;
  }

  // Transpose as a oneDNN reorder from the input's memory viewed with permuted axes (Keras' NHWC <-> NCHW).
  bool transpose(const Node& node) {
    const auto xs = shape_of(node.inputs[0]);
    size_t rank = xs.size();
    if (rank < 2 || rank > 6) return false;
    std::vector<int64_t> perm = node.attr_ints("perm");
    if (perm.empty()) for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
    if (perm.size() != rank) return false;
    std::vector<int> permutation(rank, -1);
    std::vector<int64_t> ys(rank);
    for (size_t i = 0; i < rank; ++i) {
      if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(rank) || permutation[perm[i]] >= 0) return false;
      permutation[perm[i]] = static_cast<int>(i);  // input axis perm[i] becomes output axis i
      ys[i] = xs[perm[i]];
    }
    int src = device_form(node.inputs[0]);
    memory::desc src_md = plan_.slots[src].desc;
    memory::desc viewed = src_md.permute_axes(permutation);
    memory::desc dst_md(dims_of(ys), src_md.data_type(), plain_tag(rank));
    // The source slot keeps its own desc; the reorder reads its memory through the permuted view.
    int view = new_slot(true, ys, DataType::float32);
    plan_.slots[view].desc = viewed;
    plan_.slots[view].alias_device = src;
    int dst = new_device_slot(dst_md, ys);
    add_primitive(node, dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), viewed, cpu_engine(), dst_md)),
                  {{DNNL_ARG_FROM, view}, {DNNL_ARG_TO, dst}}, {}, dst);
    return true;
  }

  bool conv(const Node& node) {
    const auto xs = shape_of(node.inputs[0]);
    if (xs.size() != 4 || node.inputs.size() < 2 || !is_constant(node.inputs[1])) return false;
    const Tensor w = constant(node.inputs[1]);
    if (w.type != DataType::float32 || w.shape.size() != 4) return false;
    std::optional<Tensor> bias_value;
    if (node.inputs.size() > 2 && !node.inputs[2].empty() && is_constant(node.inputs[2])) bias_value = constant(node.inputs[2]);
    const Tensor* bias = bias_value ? &*bias_value : nullptr;
    if (node.inputs.size() > 2 && !node.inputs[2].empty() && (!bias || bias->type != DataType::float32)) return false;
    int64_t group = node.attr_int("group", 1), M = w.shape[0];
    if (group < 1 || xs[1] != w.shape[1] * group || M % group) return false;
    if (bias && bias->element_count() != M) return false;
    auto win = spatial_window(node, g_.source.opset, {xs[2], xs[3]}, node.attr_ints("kernel_shape", {w.shape[2], w.shape[3]}));
    if (win.kh != w.shape[2] || win.kw != w.shape[3]) return false;
    std::vector<int64_t> ys = {xs[0], M, win.oh, win.ow};
    memory::dims wdims = group == 1 ? memory::dims{M, w.shape[1], w.shape[2], w.shape[3]}
                                    : memory::dims{group, M / group, w.shape[1], w.shape[2], w.shape[3]};
    memory::desc w_any(wdims, compute_dt_, tag::any), b_md({M}, dt::f32, tag::a);
    // A fused residual (nn/passes.h) is read by a binary post-op in the layout the output takes.
    int residual = -1;
    if (node.attr_int("_residual", 0) != 0) {
      if (node.inputs.size() < 4 || !float_input(node.inputs[3]) || shape_of(node.inputs[3]) != ys) return false;
      residual = device_form(node.inputs[3]);
    }
    auto residual_desc = [&](tag layout) {
      const memory::desc& have = plan_.slots[residual].desc;
      return layout == tag::any && have.data_type() == compute_dt_ ? have : memory::desc(dims_of(ys), compute_dt_, layout == tag::any ? tag::nchw : layout);
    };
    auto make_pd = [&](dnnl::algorithm alg, tag layout) {
      // A source whose channels are not a multiple of 16 (the 3-channel image) is read in the layout the kernel
      // picks: blocking it would pad it to 16 channels and add a reorder.
      memory::desc src_md(dims_of(xs), compute_dt_, xs[1] % 16 == 0 ? layout : tag::any);
      memory::desc dst_md(dims_of(ys), compute_dt_, layout);
      auto desc = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, src_md, w_any, b_md,
                                                         dst_md, {win.sh, win.sw}, {win.dh - 1, win.dw - 1},
                                                         {win.pt, win.pl}, {win.pb, win.pr})
                       : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, src_md, w_any, dst_md,
                                                         {win.sh, win.sw}, {win.dh - 1, win.dw - 1}, {win.pt, win.pl},
                                                         {win.pb, win.pr});
      const memory::desc residual_md = residual >= 0 ? residual_desc(layout) : memory::desc();
      return dnnl::convolution_forward::primitive_desc(desc, activation_attr(node, residual >= 0 ? &residual_md : nullptr),
                                                       cpu_engine());
    };
    // Candidates best first; oneDNN throws `unimplemented` for a combination no kernel of this CPU serves.
    // Blocked nChw16c: on this CPU its jit kernels beat the nhwc brgconv ones by 4-5% on InceptionV3 (fp32 and bf16),
    // and a single layout for every conv means no reorders between them and concats of like inputs.
    // Winograd F(4x4,3x3) does 3x3 stride-1 convolutions in about half the multiplies (fp32 only in oneDNN).
    std::vector<std::pair<dnnl::algorithm, tag>> candidates;
    const bool winograd_shape = win.kh == 3 && win.kw == 3 && win.sh == 1 && win.sw == 1 && win.dh == 1 &&
                                win.dw == 1 && group == 1;
    if (opt_.winograd && compute_dt_ == dt::f32 && winograd_shape)
      candidates.emplace_back(dnnl::algorithm::convolution_winograd, tag::nChw16c);
    candidates.emplace_back(dnnl::algorithm::convolution_direct, tag::nChw16c);
    candidates.emplace_back(dnnl::algorithm::convolution_direct, tag::any);
    std::optional<dnnl::convolution_forward::primitive_desc> chosen;
    tag chosen_layout = tag::any;
    for (const auto& [alg, layout] : candidates) {
      try {
        chosen = make_pd(alg, layout);
        chosen_layout = layout;
        break;
      } catch (const dnnl::error&) {
        if (alg == candidates.back().first && layout == candidates.back().second) throw;
      }
    }
    const auto& pd = *chosen;
    int src = device_as(node.inputs[0], pd.src_desc());
    memory wm = weights_as(node.inputs[1], w, wdims, group == 1 ? tag::oihw : tag::goihw, pd.weights_desc());
    std::vector<std::pair<int, memory>> consts = {{DNNL_ARG_WEIGHTS, wm}};
    if (bias) consts.emplace_back(DNNL_ARG_BIAS, weights_as(node.inputs[2], *bias, {M}, tag::a, pd.bias_desc()));
    int dst = new_device_slot(pd.dst_desc(), ys);
    std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
    if (const memory::desc scratch = pd.scratchpad_desc(); scratch.get_size() > 0)
      args.emplace_back(DNNL_ARG_SCRATCHPAD, new_device_slot(scratch, {static_cast<int64_t>(scratch.get_size())}));
    if (residual >= 0)
      args.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                        device_as(node.inputs[3], residual_desc(chosen_layout)));
    add_primitive(node, dnnl::convolution_forward(pd), args, consts, dst);
    return true;
  }

  bool pool(const Node& node) {
    const auto xs = shape_of(node.inputs[0]);
    if (xs.size() != 4 || (node.outputs.size() > 1 && !node.outputs[1].empty())) return false;
    if (node.attr_int("storage_order", 0) != 0) return false;
    const std::string& op = node.op_type;
    SpatialWindow win;
    if (op.rfind("Global", 0) == 0) {
      win.kh = xs[2];
      win.kw = xs[3];
    } else {
      if (!node.has_attr("kernel_shape")) return false;
      if (op == "AveragePool" && node.has_attr("dilations"))
        for (auto d : node.attr_ints("dilations")) if (d != 1) return false;
      win = spatial_window(node, g_.source.opset, {xs[2], xs[3]}, node.attr_ints("kernel_shape"));
    }
    // The right/bottom padding that yields the output size (ceil_mode adds some beyond the declared pads).
    int64_t pb = (win.oh - 1) * win.sh + (win.kh - 1) * win.dh + 1 - xs[2] - win.pt;
    int64_t pr = (win.ow - 1) * win.sw + (win.kw - 1) * win.dw + 1 - xs[3] - win.pl;
    bool is_max = op == "MaxPool" || op == "GlobalMaxPool";
    bool include_pad = node.attr_int("count_include_pad", 0) != 0;
    if (pb < 0 || pr < 0) return false;
    // oneDNN divides by the whole window when it includes padding; ONNX clips the window to the declared pads.
    if (!is_max && include_pad && (pb > win.pb || pr > win.pr)) return false;
    auto alg = is_max ? dnnl::algorithm::pooling_max
                      : include_pad ? dnnl::algorithm::pooling_avg_include_padding : dnnl::algorithm::pooling_avg_exclude_padding;
    // A bias and activation fused by nn/passes.h (a 1x1 conv moved before the pool) become post-ops: a
    // per-channel binary add, then the eltwise.
    std::optional<Tensor> bias;
    if (node.attr_int("_bias", 0) != 0) {
      if (node.inputs.size() < 2 || !is_constant(node.inputs[1])) return false;
      bias = constant(node.inputs[1]);
      if (bias->type != DataType::float32 || bias->element_count() != xs[1]) return false;
    }
    const memory::desc bias_md({1, xs[1], 1, 1}, dt::f32, tag::abcd);
    int src = device_form(node.inputs[0]);
    const memory::desc& src_md = plan_.slots[src].desc;
    std::vector<int64_t> ys = {xs[0], xs[1], win.oh, win.ow};
    memory::desc dst_any(dims_of(ys), src_md.data_type(), tag::any);
    dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, src_md, dst_any, {win.sh, win.sw},
                                        {win.kh, win.kw}, {win.dh - 1, win.dw - 1}, {win.pt, win.pl}, {pb, pr});
    dnnl::pooling_v2_forward::primitive_desc pd(desc, activation_attr(node, bias ? &bias_md : nullptr), cpu_engine());
    int dst = new_device_slot(pd.dst_desc(), ys);
    std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
    if (const memory::desc scratch = pd.scratchpad_desc(); scratch.get_size() > 0)
      args.emplace_back(DNNL_ARG_SCRATCHPAD, new_device_slot(scratch, {static_cast<int64_t>(scratch.get_size())}));
    std::vector<std::pair<int, memory>> consts;
    if (bias)
      consts.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                          weights_as(node.inputs[1], *bias, {1, xs[1], 1, 1}, tag::abcd, bias_md));
    add_primitive(node, dnnl::pooling_v2_forward(pd), args, consts, dst);
    return true;
  }

  bool concat(const Node& node) {
    std::vector<std::string> ins;
    for (const auto& in : node.inputs) if (!in.empty()) ins.push_back(in);
    if (ins.size() < 2) return false;
    const auto first = shape_of(ins[0]);
    auto rank = static_cast<int64_t>(first.size());
    if (rank < 1 || rank > 6) return false;
    int64_t axis = node.attr_int("axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return false;
    std::vector<int64_t> ys = first;
    ys[axis] = 0;
    for (const auto& in : ins) {
      if (!float_input(in) || shape_of(in).size() != first.size()) return false;
      for (int64_t d = 0; d < rank; ++d) if (d != axis && shape_of(in)[d] != first[d]) return false;
      if (shape_of(in)[axis] == 0) return false;
      ys[axis] += shape_of(in)[axis];
    }
    std::vector<int> srcs;
    std::vector<memory::desc> mds;
    for (const auto& in : ins) {
      int s = device_form(in);
      if (plan_.slots[s].desc.data_type() != compute_dt_)
        s = device_as(in, memory::desc(dims_of(shape_of(in)), compute_dt_, plain_tag(first.size())));
      srcs.push_back(s);
      mds.push_back(plan_.slots[s].desc);
    }
    dnnl::concat::primitive_desc pd(static_cast<int>(axis), mds, cpu_engine());
    int dst = new_device_slot(pd.dst_desc(), ys);
    std::vector<std::pair<int, int>> args = {{DNNL_ARG_DST, dst}};
    for (size_t i = 0; i < srcs.size(); ++i) args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs[i]);
    add_primitive(node, dnnl::concat(pd), args, {}, dst);
    return true;
  }

  // Gemm with constant B (and C) or MatMul by a constant 2-D matrix: a oneDNN inner product.
  bool inner_product(const Node& node) {
    bool gemm = node.op_type == "Gemm";
    const auto as = shape_of(node.inputs[0]);
    if (as.size() != 2 || node.inputs.size() < 2 || !is_constant(node.inputs[1])) return false;
    const Tensor b = constant(node.inputs[1]);
    if (b.type != DataType::float32 || b.shape.size() != 2) return false;
    if (gemm && node.attr_int("transA", 0) != 0) return false;
    bool tb = gemm && node.attr_int("transB", 0) != 0;
    float alpha = gemm ? node.attr_float("alpha", 1.0f) : 1.0f, beta = gemm ? node.attr_float("beta", 1.0f) : 1.0f;
    int64_t K = as[1], N = tb ? b.shape[0] : b.shape[1];
    if ((tb ? b.shape[1] : b.shape[0]) != K) return false;
    const Tensor* c = nullptr;
    std::optional<Tensor> c_value;
    if (gemm && node.inputs.size() > 2 && !node.inputs[2].empty()) {
      if (!is_constant(node.inputs[2])) return false;
      c_value = constant(node.inputs[2]);
      c = &*c_value;
      bool row = c->shape == std::vector<int64_t>{N} || c->shape == std::vector<int64_t>{1, N};
      if (c->type != DataType::float32 || !row) return false;
    }
    // Weights as [N, K] scaled by alpha, bias beta*C: prepared once per node.
    std::string key = node.name + "/ip";
    auto& prepared = prepared_[key];
    if (!prepared.bytes) {
      prepared = Tensor::zeros(DataType::float32, {N, K});
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          prepared.mutable_data<float>()[n * K + k] = alpha * b.data<float>()[tb ? n * K + k : k * N + n];
      prepared_bias_[key] = Tensor::zeros(DataType::float32, {N});
      if (c) for (int64_t n = 0; n < N; ++n) prepared_bias_[key].mutable_data<float>()[n] = beta * c->data<float>()[n];
    }
    std::vector<int64_t> ys = {as[0], N};
    memory::desc src_any({as[0], K}, compute_dt_, tag::any), w_any({N, K}, compute_dt_, tag::any);
    memory::desc b_md({N}, dt::f32, tag::a), dst_md({as[0], N}, dt::f32, tag::ab);
    dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, src_any, w_any, b_md, dst_md);
    dnnl::inner_product_forward::primitive_desc pd(desc, cpu_engine());
    int src = device_as(node.inputs[0], pd.src_desc());
    memory wm = weights_as(key, prepared, {N, K}, tag::ab, pd.weights_desc());
    memory bm = weights_as(key + "/bias", prepared_bias_[key], {N}, tag::a, pd.bias_desc());
    int dst = new_device_slot(pd.dst_desc(), ys);
    add_primitive(node, dnnl::inner_product_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                  {{DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}}, dst);
    return true;
  }

  bool binary(const Node& node) {
    if (node.inputs.size() != 2 || !float_input(node.inputs[1])) return false;
    std::string a = node.inputs[0], b = node.inputs[1];
    auto broadcasts_into = [](const std::vector<int64_t>& small, const std::vector<int64_t>& big) {
      if (small.size() > big.size()) return false;
      for (size_t i = 0; i < small.size(); ++i) {
        int64_t s = small[small.size() - 1 - i], g = big[big.size() - 1 - i];
        if (s != g && s != 1) return false;
      }
      return true;
    };
    const std::string& op = node.op_type;
    if (!broadcasts_into(shape_of(b), shape_of(a))) {
      if ((op == "Add" || op == "Mul") && broadcasts_into(shape_of(a), shape_of(b))) std::swap(a, b);
      else return false;
    }
    const auto as = shape_of(a);
    if (as.empty() || as.size() > 6 || !device_.count(a)) return false;  // host-only operands: the reference is as good
    const auto b_shape = shape_of(b);
    std::vector<int64_t> bs(as.size() - b_shape.size(), 1);
    bs.insert(bs.end(), b_shape.begin(), b_shape.end());
    int s0 = device_form(a);
    int s1;
    if (device_.count(b) && bs.size() == shape_of(b).size()) {
      s1 = device_form(b);
    } else if (host_.count(b)) {
      // A host operand (typically a constant) viewed with leading 1s as a plain oneDNN memory.
      s1 = new_slot(true, bs, DataType::float32);
      plan_.slots[s1].desc = plain_desc(bs);
      plan_.slots[s1].alias_host = host_.at(b);
      Step step;
      step.kind = Step::Kind::to_device;
      step.inputs = {host_.at(b)};
      step.outputs = {s1};
      plan_.slots[s1].shape = shape_of(b);  // the host tensor's own shape, checked at run time
      add_step(std::move(step));
    } else {
      return false;
    }
    auto alg = op == "Add" ? dnnl::algorithm::binary_add : op == "Sub" ? dnnl::algorithm::binary_sub
             : op == "Mul" ? dnnl::algorithm::binary_mul : dnnl::algorithm::binary_div;
    const memory::desc& md0 = plan_.slots[s0].desc;
    memory::desc md1 = plan_.slots[s1].desc;
    if (md1.dims() != dims_of(bs)) md1 = md1.reshape(dims_of(bs));
    memory::desc dst_any(md0.dims(), md0.data_type(), tag::any);
    dnnl::binary::desc desc(alg, md0, md1, dst_any);
    dnnl::binary::primitive_desc pd(desc, cpu_engine());
    if (md1 != plan_.slots[s1].desc) plan_.slots[s1].desc = md1;
    int dst = new_device_slot(pd.dst_desc(), as);
    add_primitive(node, dnnl::binary(pd), {{DNNL_ARG_SRC_0, s0}, {DNNL_ARG_SRC_1, s1}, {DNNL_ARG_DST, dst}}, {}, dst);
    return true;
  }

  bool eltwise(const Node& node) {
    const std::string& x = node.inputs[0];
    if (!device_.count(x)) return false;  // a host value: the reference kernel is as good
    const std::string& op = node.op_type;
    float alpha = 0, beta = 0;
    dnnl::algorithm alg;
    if (op == "Relu") alg = dnnl::algorithm::eltwise_relu;
    else if (op == "LeakyRelu") { alg = dnnl::algorithm::eltwise_relu; alpha = node.attr_float("alpha", 0.01f); }
    else if (op == "Sigmoid") alg = dnnl::algorithm::eltwise_logistic;
    else if (op == "Tanh") alg = dnnl::algorithm::eltwise_tanh;
    else if (op == "HardSwish") alg = dnnl::algorithm::eltwise_hardswish;
    else {  // Clip with constant bounds
      alg = dnnl::algorithm::eltwise_clip_v2;
      alpha = -3.4e38f;
      beta = 3.4e38f;
      if (g_.source.opset < 11) {
        alpha = std::max(node.attr_float("min", -3.4e38f), -3.4e38f);
        beta = std::min(node.attr_float("max", 3.4e38f), 3.4e38f);
      } else {
        for (size_t i = 1; i < node.inputs.size(); ++i) {
          if (node.inputs[i].empty()) continue;
          if (!is_constant(node.inputs[i]) || constant(node.inputs[i]).type != DataType::float32 ||
              constant(node.inputs[i]).element_count() != 1) return false;
          (i == 1 ? alpha : beta) = constant(node.inputs[i]).data<float>()[0];
        }
      }
    }
    int src = device_form(x);
    const memory::desc& md = plan_.slots[src].desc;
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, alg, md, alpha, beta);
    dnnl::eltwise_forward::primitive_desc pd(desc, cpu_engine());
    int dst = new_device_slot(pd.dst_desc(), plan_.slots[src].shape);
    add_primitive(node, dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, dst);
    return true;
  }

  // A BatchNormalization the passes could not fold into a conv (DenseNet's concat -> BN -> ReLU -> conv): oneDNN's
  // inference batch norm in the layout its input has, instead of two reorders around the reference kernel.
  bool batch_norm(const Node& node) {
    if (node.inputs.size() != 5 || node.attr_int("training_mode", 0) != 0 || !device_.count(node.inputs[0])) return false;
    for (size_t i = 1; i < node.outputs.size(); ++i) if (!node.outputs[i].empty()) return false;
    if (g_.source.opset < 7 && node.attr_int("spatial", 1) != 1) return false;
    const auto xs = shape_of(node.inputs[0]);
    if (xs.size() < 2 || xs.size() > 5) return false;
    std::vector<Tensor> params;  // scale, shift, mean, variance
    for (size_t i = 1; i < 5; ++i) {
      if (!is_constant(node.inputs[i])) return false;
      params.push_back(constant(node.inputs[i]));
      if (params.back().type != DataType::float32 || params.back().element_count() != xs[1]) return false;
    }
    const std::string act = node.attr_string("_activation", "");
    if (!act.empty() && act != "Relu") return false;
    int src = device_form(node.inputs[0]);
    const memory::desc& md = plan_.slots[src].desc;
    auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
                 dnnl::normalization_flags::use_shift;
    if (act == "Relu") flags |= dnnl::normalization_flags::fuse_norm_relu;  // in inference: ReLU on the output
    dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, md,
                                                 node.attr_float("epsilon", 1e-5f), flags);
    dnnl::batch_normalization_forward::primitive_desc pd(desc, cpu_engine());
    int dst = new_device_slot(pd.dst_desc(), xs);
    std::vector<std::pair<int, memory>> consts;
    const int args[] = {DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    const memory::desc channel_md({xs[1]}, dt::f32, tag::a);
    for (size_t i = 0; i < 4; ++i) consts.emplace_back(args[i], weights_as(node.inputs[i + 1], params[i], {xs[1]}, tag::a, channel_md));
    add_primitive(node, dnnl::batch_normalization_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, consts, dst);
    return true;
  }

  bool lrn(const Node& node) {
    const auto xs = shape_of(node.inputs[0]);
    int64_t size = node.attr_int("size", 0);
    if (xs.size() != 4 || size < 1 || size % 2 == 0) return false;  // oneDNN centres the window: odd sizes only
    int src = device_form(node.inputs[0]);
    const memory::desc& md = plan_.slots[src].desc;
    dnnl::lrn_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::lrn_across_channels, md, size,
                                 node.attr_float("alpha", 1e-4f), node.attr_float("beta", 0.75f), node.attr_float("bias", 1.0f));
    dnnl::lrn_forward::primitive_desc pd(desc, cpu_engine());
    int dst = new_device_slot(pd.dst_desc(), xs);
    add_primitive(node, dnnl::lrn_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, dst);
    return true;
  }

  std::map<std::string, Tensor> prepared_, prepared_bias_;
};

void check_unsupported(const Graph& g) {
  for (const auto& n : g.nodes)
    if (!is_supported_op(n.op_type))
      unsupported("{}: node '{}': operator {} (opset {}) is not supported by the engine", g.source.path, n.name,
                  n.op_type, g.source.opset);
}

}  // namespace


std::shared_ptr<const Model> Model::compile(Graph graph, const CompileOptions& options) {
  std::shared_ptr<Model> model(new Model());
  cut_graph(graph, options.outputs);
  check_unsupported(graph);
  if (options.optimize) simplify_for_inference(graph);
  model->graph_ = std::move(graph);
  model->options_ = options;
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
    if (t.type != DataType::float32 || !t.bytes || read_on_host.count(slot)) continue;
    auto copies = weights_->by_name.find(name);
    if (copies == weights_->by_name.end()) continue;
    if (std::none_of(copies->second.begin(), copies->second.end(), [](const CachedWeight& c) { return c.reversible(); }))
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
  Builder builder(graph_, options_, *plan, state, weights_->by_name);
  try {
    outputs = builder.build(inputs);
  } catch (const dnnl::error& e) {
    fail("{}: oneDNN failed: {}", graph_.source.path, e.what());
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
    for (const auto& step : plan->steps) execute_step(*plan, step, *state_, g.source.opset);
    state_->stream.wait();
  } catch (const dnnl::error& e) {
    fail("{}: oneDNN failed: {}", g.source.path, e.what());
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

}  // namespace xfer::nn
