// Data movement on oneDNN: channel concats and transposes (reorders through permuted views).
#include "nn/plan/builder.h"

#include <optional>

#include "nn/plan/channel_views.h"
#include "nn/reference_ops.h"

namespace xfer::nn {

std::vector<Builder::PlannerEntry> Builder::shape_planners() {
  return {{"Concat", &Builder::concat}, {"Transpose", &Builder::transpose}, {"Reshape", &Builder::view},
          {"Flatten", &Builder::view}, {"Squeeze", &Builder::view}, {"Unsqueeze", &Builder::view},
          {"Slice", &Builder::slice}, {"Gather", &Builder::gather}, {"Pad", &Builder::pad}};
}

bool Builder::concat(const Node& node) {
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
  if (is_reference_impl(pd)) {
    // Inputs in different layouts (a narrow grouped conv's nChw8c beside nChw16c) have only oneDNN's ref:any
    // concat: reorder them all to one layout, blocked for 4-D values when that has a real kernel, else plain.
    // The output's layout is given too: left to oneDNN, ViT's class-token concat at batch 1 ([1,1,768] beside
    // [1,49,768], both plain) got a [1,50,768] laid out as "bac", along whose axis 1 only ref:any concatenates.
    std::vector<tag> layouts;
    if (rank == 4) layouts.push_back(tag::nChw16c);
    layouts.push_back(plain_tag(first.size()));
    for (tag layout : layouts) {
      std::vector<memory::desc> same;
      for (const auto& in : ins) same.emplace_back(dims_of(shape_of(in)), compute_dt_, layout);
      dnnl::concat::primitive_desc candidate(memory::desc(dims_of(ys), compute_dt_, layout), static_cast<int>(axis),
                                             same, cpu_engine());
      if (is_reference_impl(candidate)) continue;
      for (size_t i = 0; i < ins.size(); ++i)
        if (mds[i] != same[i]) srcs[i] = device_as(ins[i], same[i]);
      pd = candidate;
      break;
    }
  }
  int dst = new_device_slot(pd.dst_desc(), ys);
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_DST, dst}};
  for (size_t i = 0; i < srcs.size(); ++i) args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs[i]);
  add_primitive(node, dnnl::concat(pd), args, {}, dst);
  return true;
}

// Transpose as a oneDNN reorder from the input's memory viewed with permuted axes (Keras' NHWC <-> NCHW).
bool Builder::transpose(const Node& node) {
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
  // A channel shuffle ([N, G, C/G, H, W] -> [N, C/G, G, H, W], then reshaped to [N, C, H, W]): written straight into
  // the channel-blocked layout the convolutions after it read (blocks of whole groups, and C/G whole blocks so the
  // halves ShuffleNet slices off next are whole blocks too), which the Reshape then sees as 4-D: one reorder for
  // the shuffle instead of one to plain, the transpose, and one back to blocks.
  std::optional<memory::desc> merged;
  if (perm == std::vector<int64_t>{0, 2, 1, 3, 4} && only_read_by(node.outputs[0], "Reshape")) {
    const int64_t G = xs[1], J = xs[2];
    for (auto [layout, block] : {std::pair{tag::nChw16c, int64_t{16}}, std::pair{tag::nChw8c, int64_t{8}}}) {
      if (J % block || block % G) continue;
      memory::desc four({xs[0], G * J, xs[3], xs[4]}, src_md.data_type(), layout);
      if (auto shuffled = interleaved_channels(four, G)) {
        dst_md = *shuffled;
        merged = four;
        break;
      }
    }
  }
  // Otherwise, a transpose of strided, unblocked memory is that memory seen through permuted strides: no copy here. A
  // consumer that reads strides (a matmul, a binary, a convolution in nhwc) takes it as it is, and one that needs
  // another layout reorders it once, as it would the output of any primitive (ConvNeXt's NHWC -> NCHW after its
  // MLP, attention's heads and keys).
  if (!merged && is_unblocked(viewed)) {
    int view = new_slot(true, ys, DataType::float32);
    plan_.slots[view].desc = viewed;
    plan_.slots[view].alias_device = src;
    device_[node.outputs[0]] = view;
    return true;
  }
  // The source slot keeps its own desc; the reorder reads its memory through the permuted view.
  int view = new_slot(true, ys, DataType::float32);
  plan_.slots[view].desc = viewed;
  plan_.slots[view].alias_device = src;
  int dst = new_device_slot(dst_md, ys);
  add_primitive(node, dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), viewed, cpu_engine(), dst_md)),
                {{DNNL_ARG_FROM, view}, {DNNL_ARG_TO, dst}}, {}, dst);
  if (merged) merged_views_[dst] = *merged;
  return true;
}

bool Builder::only_read_by(const std::string& value, const char* op) const {
  for (const auto& out : g_.outputs) if (out.name == value) return false;
  auto it = readers_.find(value);
  if (it == readers_.end() || it->second.empty()) return false;
  for (const Node* n : it->second) if (n->op_type != op) return false;
  return true;
}

int Builder::plain_form(const std::string& name) {
  int s = device_form(name);
  const memory::desc& have = plan_.slots[s].desc;
  const std::vector<int64_t> shape = plan_.slots[s].shape;
  if (shape.size() > 6) return -1;
  memory::desc plain(dims_of(shape), have.data_type(), plain_tag(shape.size()));
  return have == plain ? s : device_as(name, plain);
}

int Builder::new_view(int slot, const std::vector<int64_t>& shape) {
  return new_view(slot, memory::desc(dims_of(shape), plan_.slots[slot].desc.data_type(), plain_tag(shape.size())), shape);
}

int Builder::new_view(int slot, const memory::desc& desc, const std::vector<int64_t>& shape, size_t offset) {
  int view = new_slot(true, shape, DataType::float32);
  plan_.slots[view].desc = desc;
  plan_.slots[view].alias_device = slot;
  plan_.slots[view].alias_offset = offset;
  return view;
}

int Builder::blocked_view(const Node& node, const std::vector<int64_t>& ys) {
  if (node.op_type != "Reshape") return -1;
  int src = device_form(node.inputs[0]);
  const memory::desc& have = plan_.slots[src].desc;
  if (auto m = merged_views_.find(src); m != merged_views_.end() && dims_of(ys) == m->second.dims())
    return new_view(src, m->second, ys);
  const auto xs = plan_.slots[src].shape;
  if (channel_block(have) > 1 && xs.size() == 4 && ys.size() == 5 && ys[0] == xs[0] && ys[1] * ys[2] == xs[1] &&
      ys[3] == xs[2] && ys[4] == xs[3])
    if (auto split = split_channels(have, ys[1])) return new_view(src, *split, ys);
  return -1;
}

// Reshape, Flatten, Squeeze, Unsqueeze of a value on the device: the same bytes seen with another shape, once the
// value is in its plain (row-major) layout. No step at run time.
bool Builder::view(const Node& node) {
  if (!device_.count(node.inputs[0])) return false;  // a host value: the reference kernel shares its bytes
  // The output shape, from the reference kernel on a tensor with the input's shape and no bytes (these four
  // only read shapes) and the node's other inputs, which must be constants.
  Tensor shape_only;
  shape_only.shape = shape_of(node.inputs[0]);
  std::vector<Tensor> others;
  others.reserve(node.inputs.size());
  std::vector<const Tensor*> ins = {&shape_only};
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (node.inputs[i].empty()) { ins.push_back(nullptr); continue; }
    if (!is_constant(node.inputs[i])) return false;
    others.push_back(constant(node.inputs[i]));
    ins.push_back(&others.back());
  }
  const std::vector<int64_t> ys = run_reference(node, ins, g_.source.opset).at(0).shape;
  if (ys.empty() || ys.size() > 6) return false;
  if (int blocked = blocked_view(node, ys); blocked >= 0) {
    device_[node.outputs[0]] = blocked;
    return true;
  }
  int src = plain_form(node.inputs[0]);
  if (src < 0) return false;
  device_[node.outputs[0]] = new_view(src, ys);
  return true;
}

// Slice with positive steps of a device value: a reorder from the sub-memory it covers (ShuffleNetV2's channel
// split, ViT's q/k/v out of one projection, Swin's shifted windows).
bool Builder::slice(const Node& node) {
  if (!device_.count(node.inputs[0])) return false;
  const auto xs = shape_of(node.inputs[0]);
  if (xs.empty() || xs.size() > 6) return false;
  std::vector<Tensor> others;
  others.reserve(node.inputs.size());
  std::vector<const Tensor*> ins = {nullptr};
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (node.inputs[i].empty()) { ins.push_back(nullptr); continue; }
    if (!is_constant(node.inputs[i])) return false;
    others.push_back(constant(node.inputs[i]));
    ins.push_back(&others.back());
  }
  const SliceWindow w = slice_window(node, g_.source.opset, xs, ins);
  for (auto n : w.shape) if (n == 0) return false;
  if (std::any_of(w.step.begin(), w.step.end(), [](int64_t step) { return step != 1; })) return stepped_slice(node, w);
  // A slice that keeps everything (Swin's crop back to the unpadded size, 24 of them at 224x224) is its input.
  if (w.shape == xs) {
    device_[node.outputs[0]] = device_form(node.inputs[0]);
    return true;
  }
  int src = device_form(node.inputs[0]);
  const memory::desc have = plan_.slots[src].desc;
  // The part keeps its source's layout (a blocked one when the part is whole channel blocks), so the convolution
  // reading ShuffleNet's channel split finds it in the layout it wants.
  memory::desc dst_md(dims_of(w.shape), have.data_type(), plain_tag(w.shape.size()));
  int contiguous_view = -1;
  for (const auto& [layout, block] : contiguous_layouts(xs.size())) {
    if (!is_layout(have, layout) || (block > 1 && (w.shape[1] % block || w.start[1] % block))) continue;
    dst_md = memory::desc(dims_of(w.shape), have.data_type(), layout);
    // A part that is one contiguous run of the source's bytes (every dimension before the one cut is 1, every one
    // after it whole: ShuffleNet's channel split at batch 1) is a view, no copy.
    size_t axis = 0;
    while (axis < xs.size() && w.shape[axis] == xs[axis]) ++axis;
    bool contiguous = axis < xs.size() && (block == 1 || axis == 1);
    for (size_t d = 0; contiguous && d < xs.size(); ++d)
      contiguous = d < axis ? xs[d] == 1 : d == axis || (w.shape[d] == xs[d] && w.start[d] == 0);
    if (contiguous) {
      int64_t inner = 1;
      for (size_t d = axis + 1; d < xs.size(); ++d) inner *= xs[d];
      const size_t offset = static_cast<size_t>(w.start[axis] * inner) * memory::data_type_size(have.data_type());
      contiguous_view = new_view(src, dst_md, w.shape, offset);
    }
    break;
  }
  // A concat reading the part gets a copy, which place_concats_in_place (nn/plan.h) has the reorder write straight
  // into the concat's output; except the first part of a buffer as the first input of its concats (ShuffleNet's
  // x1 beside the branch computed from the rest), where the concat may take over the source's buffer instead.
  bool leading_piece = w.start == std::vector<int64_t>(xs.size(), 0);
  if (auto r = readers_.find(node.outputs[0]); r != readers_.end())
    for (const Node* n : r->second) leading_piece = leading_piece && n->inputs.at(0) == node.outputs[0];
  if (contiguous_view >= 0 && (!only_read_by(node.outputs[0], "Concat") || leading_piece)) {
    device_[node.outputs[0]] = contiguous_view;
    return true;
  }
  int view = contiguous_view;
  memory::desc part = dst_md;
  if (view < 0) {
    try {
      part = have.submemory_desc(dims_of(w.shape), dims_of(w.start));
    } catch (const dnnl::error&) {  // a blocked layout cut inside a block: cut the plain form instead
      src = plain_form(node.inputs[0]);
      part = plan_.slots[src].desc.submemory_desc(dims_of(w.shape), dims_of(w.start));
      dst_md = memory::desc(dims_of(w.shape), have.data_type(), plain_tag(w.shape.size()));
    }
    view = new_slot(true, w.shape, DataType::float32);
    plan_.slots[view].desc = part;
    plan_.slots[view].alias_device = src;
  }
  int dst = new_device_slot(dst_md, w.shape);
  add_primitive(node, dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), part, cpu_engine(), dst_md)),
                {{DNNL_ARG_FROM, view}, {DNNL_ARG_TO, dst}}, {}, dst);
  return true;
}

// Slice with steps above 1 (Swin's patch merging, x[..., 0::2, 1::2, :], exported as a Slice along H then one along
// W): the source's unblocked memory seen with the steps in its strides; a view when only Slices read it, else a
// reorder of that view, instead of a copy to the host, the reference kernel and a copy back. A concat reading the
// parts takes each reorder's output in place (place_concats_in_place, nn/plan.h).
bool Builder::stepped_slice(const Node& node, const SliceWindow& w) {
  for (auto step : w.step) if (step < 1) return false;  // negative steps: the reference kernel
  int src = device_form(node.inputs[0]);
  if (!is_unblocked(plan_.slots[src].desc)) src = plain_form(node.inputs[0]);
  if (src < 0 || !is_unblocked(plan_.slots[src].desc)) return false;
  const memory::desc& have = plan_.slots[src].desc;
  const auto& blocking = have.data.format_desc.blocking;
  memory::dims strides(w.shape.size());
  int64_t offset = have.data.offset0;
  for (size_t d = 0; d < w.shape.size(); ++d) {
    strides[d] = blocking.strides[d] * w.step[d];
    offset += w.start[d] * blocking.strides[d];
  }
  memory::desc part(dims_of(w.shape), have.data_type(), strides);
  part.data.offset0 = offset;
  const int view = new_view(src, part, w.shape);
  if (only_read_by(node.outputs[0], "Slice")) {
    device_[node.outputs[0]] = view;
    return true;
  }
  const memory::desc dst_md(dims_of(w.shape), have.data_type(), plain_tag(w.shape.size()));
  const int dst = new_device_slot(dst_md, w.shape);
  add_primitive(node, dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), part, cpu_engine(), dst_md)),
                {{DNNL_ARG_FROM, view}, {DNNL_ARG_TO, dst}}, {}, dst);
  return true;
}

// Gather of one constant index along an axis of a device value (ViT's class token, attention's q, k and v): a
// view of the part when the layout is unblocked, else the same reorder from a sub-memory, the axis dropped by a view.
bool Builder::gather(const Node& node) {
  if (!device_.count(node.inputs[0]) || node.inputs.size() < 2 || !is_constant(node.inputs[1])) return false;
  const auto xs = shape_of(node.inputs[0]);
  const Tensor index = constant(node.inputs[1]);
  if (xs.empty() || xs.size() > 6 || !index.shape.empty() ||
      (index.type != DataType::int64 && index.type != DataType::int32))
    return false;
  auto rank = static_cast<int64_t>(xs.size());
  int64_t axis = node.attr_int("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  int64_t i = index.type == DataType::int64 ? index.data<int64_t>()[0] : index.data<int32_t>()[0];
  if (i < 0) i += xs[axis];
  if (i < 0 || i >= xs[axis]) return false;  // the reference kernel names the bad index
  std::vector<int64_t> kept = xs, start(xs.size(), 0), ys;
  kept[axis] = 1;
  start[axis] = i;
  for (int64_t d = 0; d < rank; ++d) if (d != axis) ys.push_back(xs[d]);
  if (ys.empty()) return false;
  int src = device_form(node.inputs[0]);
  memory::desc part;
  try {
    part = plan_.slots[src].desc.submemory_desc(dims_of(kept), dims_of(start));
  } catch (const dnnl::error&) {
    src = plain_form(node.inputs[0]);
    part = plan_.slots[src].desc.submemory_desc(dims_of(kept), dims_of(start));
  }
  // In an unblocked layout the part is the source's bytes seen with the axis dropped: a view, no copy. Swin's and
  // ViT's q, k and v out of the transposed projection output are strided, and their readers (matmuls, a transpose)
  // take them as they are or reorder them once.
  const auto& blocking = part.data.format_desc.blocking;
  if (is_unblocked(part) && plan_.slots[src].desc.data.offset0 == 0) {
    memory::dims strides;
    for (int64_t d = 0; d < rank; ++d) if (d != axis) strides.push_back(blocking.strides[d]);
    const size_t offset = static_cast<size_t>(i * blocking.strides[axis]) * memory::data_type_size(part.data_type());
    device_[node.outputs[0]] = new_view(src, memory::desc(dims_of(ys), part.data_type(), strides), ys, offset);
    return true;
  }
  int view = new_slot(true, kept, DataType::float32);
  plan_.slots[view].desc = part;
  plan_.slots[view].alias_device = src;
  memory::desc dst_md(dims_of(kept), part.data_type(), plain_tag(kept.size()));
  int dst = new_device_slot(dst_md, kept);
  add_primitive(node, dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), part, cpu_engine(), dst_md)),
                {{DNNL_ARG_FROM, view}, {DNNL_ARG_TO, dst}}, {}, dst);
  device_[node.outputs[0]] = new_view(dst, ys);
  return true;
}

// A Pad that adds nothing (Swin pads its windows up to a multiple of the window size, all zeros at 224x224): the
// input itself, no step. Other pads stay on the reference kernel.
bool Builder::pad(const Node& node) {
  if (!device_.count(node.inputs[0]) || node.attr_string("mode", "constant") != "constant") return false;
  std::vector<int64_t> pads;
  if (g_.source.opset >= 11) {
    if (node.inputs.size() < 2 || !is_constant(node.inputs[1])) return false;
    const Tensor t = constant(node.inputs[1]);
    if (t.type != DataType::int64) return false;
    pads.assign(t.data<int64_t>(), t.data<int64_t>() + t.element_count());
    if (node.inputs.size() > 3 && !node.inputs[3].empty()) return false;  // axes (opset 18)
  } else {
    pads = node.attr_ints("pads");
  }
  if (pads.size() != 2 * shape_of(node.inputs[0]).size()) return false;
  for (int64_t p : pads) if (p != 0) return false;
  device_[node.outputs[0]] = device_form(node.inputs[0]);
  return true;
}

}  // namespace xfer::nn
