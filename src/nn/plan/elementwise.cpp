// Elementwise ops on oneDNN: broadcast binary arithmetic and activations (eltwise).
#include "nn/plan/builder.h"
#include "nn/plan/channel_views.h"

#include <algorithm>
#include <optional>

namespace xfer::nn {

std::vector<Builder::PlannerEntry> Builder::elementwise_planners() {
  return {{"Add", &Builder::binary}, {"Sub", &Builder::binary}, {"Mul", &Builder::binary}, {"Div", &Builder::binary},
          {"Relu", &Builder::eltwise}, {"LeakyRelu", &Builder::eltwise}, {"Sigmoid", &Builder::eltwise},
          {"Tanh", &Builder::eltwise}, {"HardSwish", &Builder::eltwise}, {"Swish", &Builder::eltwise},
          {"Clip", &Builder::eltwise},
          {"Gelu", &Builder::eltwise}, {"Sqrt", &Builder::eltwise}, {"Exp", &Builder::eltwise},
          {"Log", &Builder::eltwise}, {"Abs", &Builder::eltwise}, {"Neg", &Builder::eltwise},
          {"Reciprocal", &Builder::eltwise}, {"Pow", &Builder::eltwise}};
}

bool Builder::binary(const Node& node) {
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
  memory::desc md0 = plan_.slots[s0].desc;
  memory::desc md1 = plan_.slots[s1].desc;
  if (md1.dims() != dims_of(bs)) md1 = md1.reshape(dims_of(bs));
  if (md1 != plan_.slots[s1].desc) plan_.slots[s1].desc = md1;
  // oneDNN 2.6's jit binary wants both operands in one layout family (plain/nhwc, or nChw16c): a blocked nChw8c
  // input (a grouped conv's output) or a plain broadcast operand beside a blocked one runs on ref:any, 10-50x
  // slower. Such pairs are reordered: a blocked 4-D value to nChw16c, else to plain. An unblocked 4-D value (a
  // strided view such as attention's q, [B, heads, T, d]) goes to plain first: nChw16c would pad its second
  // dimension, the heads, to 16, and cost a reorder there and back.
  std::vector<std::pair<memory::desc, memory::desc>> candidates = {{md0, md1}};
  const std::pair<memory::desc, memory::desc> plain = {memory::desc(md0.dims(), md0.data_type(), plain_tag(as.size())),
                                                       memory::desc(md1.dims(), md1.data_type(), plain_tag(as.size()))};
  const bool plain_first = is_unblocked(md0);
  if (plain_first) candidates.push_back(plain);
  if (as.size() == 4)
    candidates.emplace_back(memory::desc(md0.dims(), md0.data_type(), tag::nChw16c),
                            memory::desc(md1.dims(), md1.data_type(), tag::nChw16c));
  if (!plain_first) candidates.push_back(plain);
  std::optional<dnnl::binary::primitive_desc> chosen;
  memory::desc want0, want1;
  for (const auto& [c0, c1] : candidates) {
    memory::desc dst_any(c0.dims(), c0.data_type(), tag::any);
    dnnl::binary::primitive_desc pd(dnnl::binary::desc(alg, c0, c1, dst_any), cpu_engine());
    if (!chosen || !is_reference_impl(pd)) {
      chosen = pd;
      want0 = c0;
      want1 = c1;
    }
    if (!is_reference_impl(pd)) break;
  }
  if (is_reference_impl(*chosen) && is_constant(b) && constant(b).type == DataType::float32 &&
      binary_by_expanded_constant(node, alg, a, b, bs))
    return true;
  if (want0 != md0) s0 = reordered(s0, want0);
  if (want1 != md1) s1 = reordered(s1, want1);
  int dst = new_device_slot(chosen->dst_desc(), as);
  add_primitive(node, dnnl::binary(*chosen), {{DNNL_ARG_SRC_0, s0}, {DNNL_ARG_SRC_1, s1}, {DNNL_ARG_DST, dst}}, {}, dst);
  return true;
}

namespace {

// `t` (its shape padded with leading 1s to `from`) repeated along its size-1 dimensions to `to`.
Tensor broadcast_to(const Tensor& t, const std::vector<int64_t>& from, const std::vector<int64_t>& to) {
  Tensor out = Tensor::zeros(DataType::float32, to);
  std::vector<int64_t> strides(from.size(), 0);
  for (int64_t d = static_cast<int64_t>(from.size()) - 1, stride = 1; d >= 0; --d) {
    strides[d] = from[d] == 1 ? 0 : stride;
    stride *= from[d];
  }
  std::vector<int64_t> idx(to.size(), 0);
  const float* src = t.data<float>();
  float* dst = out.mutable_data<float>();
  for (int64_t i = 0, n = out.element_count(); i < n; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < to.size(); ++d) off += idx[d] * strides[d];
    dst[i] = src[off];
    for (size_t d = to.size(); d-- > 0;) {
      if (++idx[d] < to[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace

// oneDNN 2.6's jit binary broadcasts src1 only in some patterns (a scalar, per channel, over the batch); Swin's
// attention mask, [1, windows, 1, 49, 49] added to [batch, windows, heads, 49, 49], ran on ref:any at 60-70 ms a
// call at batch 1. A constant operand is repeated along its broadcast dimensions once, at plan time (the batch
// first kept at 1, then expanded too if need be), up to 64 MB; the add then has a jit kernel.
bool Builder::binary_by_expanded_constant(const Node& node, dnnl::algorithm alg, const std::string& a,
                                          const std::string& b, const std::vector<int64_t>& bs) {
  const auto as = shape_of(a);
  const Tensor value = constant(b);
  for (bool whole_batch : {false, true}) {
    std::vector<int64_t> target = as;
    if (!whole_batch) target[0] = bs[0];
    if (target == bs) continue;
    int64_t count = 1;
    for (auto d : target) count *= d;
    if (count > (int64_t{64} << 20) / 4) return false;
    memory::desc md0(dims_of(as), compute_dt_, plain_tag(as.size()));
    memory::desc md1(dims_of(target), dt::f32, plain_tag(as.size()));
    memory::desc dst_md(dims_of(as), compute_dt_, plain_tag(as.size()));
    dnnl::binary::primitive_desc pd(dnnl::binary::desc(alg, md0, md1, dst_md), cpu_engine());
    if (is_reference_impl(pd)) continue;
    int s0 = device_as(a, md0);
    memory m1 = weights_as(node.name + "/expanded", broadcast_to(value, bs, target), dims_of(target),
                           plain_tag(as.size()), md1);
    int dst = new_device_slot(pd.dst_desc(), as);
    add_primitive(node, dnnl::binary(pd), {{DNNL_ARG_SRC_0, s0}, {DNNL_ARG_DST, dst}}, {{DNNL_ARG_SRC_1, m1}}, dst);
    return true;
  }
  return false;
}

bool Builder::eltwise(const Node& node) {
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
  else if (op == "Swish") { alg = dnnl::algorithm::eltwise_swish; alpha = 1.0f; }
  else if (op == "Gelu") {
    const std::string approximate = node.attr_string("approximate", "none");
    if (approximate != "none" && approximate != "tanh") return false;
    alg = approximate == "none" ? dnnl::algorithm::eltwise_gelu_erf : dnnl::algorithm::eltwise_gelu_tanh;
  } else if (op == "Sqrt") alg = dnnl::algorithm::eltwise_sqrt;
  else if (op == "Exp") alg = dnnl::algorithm::eltwise_exp;
  else if (op == "Log") alg = dnnl::algorithm::eltwise_log;
  else if (op == "Abs") alg = dnnl::algorithm::eltwise_abs;
  else if (op == "Neg") { alg = dnnl::algorithm::eltwise_linear; alpha = -1.0f; }
  else if (op == "Reciprocal") { alg = dnnl::algorithm::eltwise_pow; alpha = 1.0f; beta = -1.0f; }
  else if (op == "Pow") {  // by a constant scalar exponent: alpha * x^beta
    if (node.inputs.size() != 2 || !is_constant(node.inputs[1])) return false;
    const Tensor e = constant(node.inputs[1]);
    if (e.element_count() != 1 || e.type != DataType::float32) return false;
    alg = dnnl::algorithm::eltwise_pow;
    alpha = 1.0f;
    beta = e.data<float>()[0];
  } else {  // Clip with constant bounds
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
  auto make_pd = [&](const memory::desc& md) {
    return dnnl::eltwise_forward::primitive_desc(dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg,
                                                                             md, alpha, beta), cpu_engine());
  };
  const auto pd = with_plain_fallback(x, src, make_pd);
  int dst = new_device_slot(pd.dst_desc(), plan_.slots[src].shape);
  add_primitive(node, dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, dst);
  return true;
}

}  // namespace xfer::nn
