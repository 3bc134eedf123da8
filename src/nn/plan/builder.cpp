#include "nn/plan/builder.h"

#include <algorithm>

#include "nn/errors.h"
#include "nn/reference_ops.h"
#include "util/log.h"

namespace xfer::nn {

std::vector<Tensor> Builder::build(const std::map<std::string, Tensor>& inputs) {
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
  for (const auto& node : g_.nodes)
    for (const auto& in : node.inputs) if (!in.empty()) readers_[in].push_back(&node);
  for (const auto& [name, t] : g_.initializers)
    if (auto r = readers_.find(name); r != readers_.end()) unplanned_readers_[name] = static_cast<int>(r->second.size());
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

int Builder::new_slot(bool device, std::vector<int64_t> shape, DataType type) {
  Slot s;
  s.device = device;
  s.shape = std::move(shape);
  s.type = type;
  plan_.slots.push_back(std::move(s));
  st_.memories.emplace_back();
  st_.host.emplace_back();
  return static_cast<int>(plan_.slots.size() - 1);
}

int Builder::new_device_slot(const memory::desc& desc, const std::vector<int64_t>& shape) {
  int s = new_slot(true, shape, DataType::float32);
  plan_.slots[s].desc = desc;
  st_.memories[s] = memory(desc, cpu_engine());  // untouched while building: no resident pages
  return s;
}

// Host-side steps run while building (reference kernels need real shapes); oneDNN steps only get their
// primitives here and first run on the arena, so building never touches a second copy of every activation.
void Builder::add_step(Step step) {
  plan_.steps.push_back(std::move(step));
  const Step& added = plan_.steps.back();
  if (added.kind == Step::Kind::reference || added.kind == Step::Kind::to_device)
    read_on_host_.insert(added.inputs.begin(), added.inputs.end());
  if (added.kind != Step::Kind::primitive && added.kind != Step::Kind::reorder)
    execute_step(plan_, added, st_, g_.source.opset);
}

int Builder::host_form(const std::string& name) {
  if (auto it = host_.find(name); it != host_.end()) return it->second;
  int d = device_form(name);
  int h = new_slot(false, plan_.slots[d].shape, DataType::float32);
  Step step;
  step.kind = Step::Kind::to_host;
  step.inputs = {d};
  step.outputs = {h};
  add_step(std::move(step));
  host_[name] = h;
  return h;
}

int Builder::device_form(const std::string& name) {
  int s = device_primary(name);
  const memory::desc& have = plan_.slots[s].desc;
  if (!is_int8(have.data_type())) return s;
  memory::desc as_float = have;  // the same layout (strides count elements, not bytes) holding f32
  as_float.data.data_type = dnnl_f32;
  return device_as(name, as_float);
}

int Builder::device_primary(const std::string& name) {
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
int Builder::device_as(const std::string& name, const memory::desc& desc, float scale) {
  int s = device_primary(name);
  if (!is_int8(desc.data_type())) scale = 1.0f;
  auto same = [&](int slot) { return plan_.slots[slot].desc == desc && plan_.slots[slot].scale == scale; };
  if (same(s)) return s;
  for (int c : converted_[s]) if (same(c)) return c;
  int d = new_device_slot(desc, plan_.slots[s].shape);
  plan_.slots[d].scale = scale;
  // real = q_src * scale_src = q_dst * scale_dst: the reorder multiplies by scale_src / scale_dst, rounds, saturates.
  dnnl::primitive_attr attr;
  if (const float ratio = plan_.slots[s].scale / scale; ratio != 1.0f) attr.set_output_scales(0, {ratio});
  Step step;
  step.kind = Step::Kind::reorder;
  step.prim = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), plan_.slots[s].desc, cpu_engine(), desc, attr));
  step.args = {{DNNL_ARG_FROM, s}, {DNNL_ARG_TO, d}};
  add_step(std::move(step));
  converted_[s].push_back(d);
  return d;
}

int Builder::reordered(int slot, const memory::desc& desc) {
  const memory::dims dims = desc.dims();
  int d = new_device_slot(desc, std::vector<int64_t>(dims.begin(), dims.end()));
  Step step;
  step.kind = Step::Kind::reorder;
  step.prim = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), plan_.slots[slot].desc, cpu_engine(), desc));
  step.args = {{DNNL_ARG_FROM, slot}, {DNNL_ARG_TO, d}};
  add_step(std::move(step));
  return d;
}

// A constant tensor reordered once into `desc` (cached across plans: weights do not change).
memory Builder::weights_as(const std::string& key, const Tensor& t, const memory::dims& dims, tag plain, const memory::desc& desc) {
  auto& cached = weight_cache_[key];
  for (auto& c : cached) if (c.desc == desc) return c.mem;
  memory::desc source(dims, t.type == DataType::int8 ? dt::s8 : dt::f32, plain);
  memory src(source, cpu_engine(), const_cast<unsigned char*>(t.bytes->data()));
  memory dst(desc, cpu_engine());
  dnnl::stream s(cpu_engine());
  dnnl::reorder(src, dst).execute(s, src, dst);
  s.wait();
  cached.push_back({source, desc, dst});
  return dst;
}

void Builder::add_node(const Node& node) {
  plan_node(node);
  for (const auto& in : node.inputs) {
    auto left = unplanned_readers_.find(in);
    if (left != unplanned_readers_.end() && --left->second == 0) release_if_absorbed(in);
  }
}

void Builder::release_if_absorbed(const std::string& name) {
  if (!release_weight_) return;
  for (const auto& out : g_.outputs) if (out.name == name) return;
  auto slot = plan_.constant_slots.find(name);
  if (slot == plan_.constant_slots.end() || read_on_host_.count(slot->second)) return;
  Tensor& value = plan_.slots[slot->second].value;
  if (value.type != DataType::float32 || !value.bytes) return;
  if (!has_reversible_copy(weight_cache_, name)) return;
  value.bytes.reset();
  release_weight_(name);
}

void Builder::plan_node(const Node& node) {
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

void Builder::fold(const Node& node) {
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

void Builder::add_reference(const Node& node) {
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

void Builder::add_primitive(const Node& node, dnnl::primitive prim, std::vector<std::pair<int, int>> args,
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

bool Builder::try_device(const Node& node) {
  static const std::map<std::string, Planner> planners = [] {
    std::map<std::string, Planner> table;
    for (const auto& family : {convolution_planners(), elementwise_planners(), attention_planners(), shape_planners()})
      for (const auto& entry : family) table.emplace(entry.op_type, entry.plan);
    return table;
  }();
  if (node.inputs.empty() || !float_input(node.inputs[0])) return false;
  if (opt_.precision == Precision::int8 && opt_.calibration) {
    static const std::map<std::string, Planner> quantized = [] {
      std::map<std::string, Planner> table;
      for (const auto& entry : quantized_planners()) table.emplace(entry.op_type, entry.plan);
      return table;
    }();
    if (auto q = quantized.find(node.op_type); q != quantized.end()) {
      try {
        if ((this->*(q->second))(node)) return true;
      } catch (const dnnl::error& e) {
        spdlog::debug("node '{}' ({}): no int8 kernel ({}); running it in fp32", node.name, node.op_type, e.what());
      }
    }
  }
  auto it = planners.find(node.op_type);
  if (it == planners.end()) return false;
  return (this->*(it->second))(node);
}

}  // namespace xfer::nn
