#include "nn/plan/runtime.h"

#include <cstring>

#include "nn/errors.h"
#include "nn/reference_ops.h"

namespace xfer::nn {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

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

memory::desc plain_desc(const std::vector<int64_t>& shape, dt type) {
  return memory::desc(dims_of(shape), type, plain_tag(shape.size()));
}

memory device_memory(const Plan& plan, const RunState& st, int slot) {
  int root = plan.slots[slot].alias_device;
  if (root < 0) return st.memories[slot];
  auto* bytes = static_cast<unsigned char*>(device_memory(plan, st, root).get_data_handle());
  return memory(plan.slots[slot].desc, cpu_engine(), bytes + plan.slots[slot].alias_offset);
}

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
      memory src = device_memory(plan, st, d);
      dnnl::reorder(src, dst).execute(st.stream, src, dst);
      st.stream.wait();
      st.host[h] = std::move(t);
      break;
    }
    case Step::Kind::in_place:  // its inputs' producers already wrote the output
      break;
    case Step::Kind::reorder:
    case Step::Kind::primitive: {
      std::unordered_map<int, memory> args;
      for (const auto& [arg, s] : step.args) args[arg] = device_memory(plan, st, s);
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

}  // namespace xfer::nn
