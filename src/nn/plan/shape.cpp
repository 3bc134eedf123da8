// Data movement on oneDNN: channel concats and transposes (reorders through permuted views).
#include "nn/plan/builder.h"



namespace xfer::nn {

std::vector<Builder::PlannerEntry> Builder::shape_planners() {
  return {{"Concat", &Builder::concat}, {"Transpose", &Builder::transpose}};
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
    std::vector<tag> layouts;
    if (rank == 4) layouts.push_back(tag::nChw16c);
    layouts.push_back(plain_tag(first.size()));
    for (tag layout : layouts) {
      std::vector<memory::desc> same;
      for (const auto& in : ins) same.emplace_back(dims_of(shape_of(in)), compute_dt_, layout);
      dnnl::concat::primitive_desc candidate(static_cast<int>(axis), same, cpu_engine());
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
  // The source slot keeps its own desc; the reorder reads its memory through the permuted view.
  int view = new_slot(true, ys, DataType::float32);
  plan_.slots[view].desc = viewed;
  plan_.slots[view].alias_device = src;
  int dst = new_device_slot(dst_md, ys);
  add_primitive(node, dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), viewed, cpu_engine(), dst_md)),
                {{DNNL_ARG_FROM, view}, {DNNL_ARG_TO, dst}}, {}, dst);
  return true;
}

}  // namespace xfer::nn
