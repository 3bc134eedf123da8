// int8 convolutions and concats on oneDNN (VNNI): per-tensor activation scales from the calibration, weights s8
// per output channel, bias, activation, residual sum and requantisation folded into output scales and post-ops.
// int8 pools live beside the fp32 ones (nn/plan/convolution.cpp). A node these decline runs in fp32.
#include <cmath>

#include "nn/plan/builder.h"
#include "nn/reference_ops.h"

namespace xfer::nn {

std::vector<Builder::PlannerEntry> Builder::quantized_planners() {
  return {{"Conv", &Builder::conv_int8}, {"Concat", &Builder::concat_int8}};
}

const ValueRange* Builder::range_of(const std::string& name) const {
  return opt_.calibration ? opt_.calibration->find(name) : nullptr;
}

namespace {

dt int8_type(const ValueRange& r) { return r.is_unsigned ? dt::u8 : dt::s8; }

// Symmetric per-output-channel s8: w = q * scale[m], q in [-limit, limit].
Tensor quantize_weights(const Tensor& w, float limit, std::vector<float>& scale) {
  const int64_t m_count = w.shape[0], per = w.element_count() / m_count;
  Tensor q = Tensor::zeros(DataType::int8, w.shape);
  scale.assign(m_count, 1.0f);
  const float* x = w.data<float>();
  auto* out = q.mutable_data<int8_t>();
  for (int64_t m = 0; m < m_count; ++m) {
    float max_abs = 0;
    for (int64_t i = 0; i < per; ++i) max_abs = std::max(max_abs, std::fabs(x[m * per + i]));
    if (max_abs > 0) scale[m] = max_abs / limit;
    for (int64_t i = 0; i < per; ++i)
      out[m * per + i] = static_cast<int8_t>(std::lround(std::clamp(x[m * per + i] / scale[m], -limit, limit)));
  }
  return q;
}

}  // namespace

bool Builder::conv_int8(const Node& node) {
  const auto xs = shape_of(node.inputs[0]);
  if (xs.size() != 4 || node.inputs.size() < 2 || !is_constant(node.inputs[1])) return false;
  const ValueRange* in_range = range_of(node.inputs[0]);
  const ValueRange* out_range = range_of(node.outputs[0]);
  if (!in_range || !out_range) return false;
  const Tensor w = constant(node.inputs[1]);
  if (w.type != DataType::float32 || w.shape.size() != 4 || !w.bytes) return false;
  std::optional<Tensor> bias;
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    if (!is_constant(node.inputs[2])) return false;
    bias = constant(node.inputs[2]);
    if (bias->type != DataType::float32) return false;
  }
  const int64_t group = node.attr_int("group", 1), M = w.shape[0];
  if (group < 1 || xs[1] != w.shape[1] * group || M % group) return false;
  if (bias && bias->element_count() != M) return false;
  auto win = spatial_window(node, g_.source.opset, {xs[2], xs[3]}, node.attr_ints("kernel_shape", {w.shape[2], w.shape[3]}));
  if (win.kh != w.shape[2] || win.kw != w.shape[3]) return false;
  const std::vector<int64_t> ys = {xs[0], M, win.oh, win.ow};
  const memory::dims wdims = group == 1 ? memory::dims{M, w.shape[1], w.shape[2], w.shape[3]}
                                        : memory::dims{group, M / group, w.shape[1], w.shape[2], w.shape[3]};
  int residual = -1;
  if (node.attr_int("_residual", 0) != 0) {
    if (node.inputs.size() < 4 || !float_input(node.inputs[3]) || shape_of(node.inputs[3]) != ys) return false;
    residual = device_primary(node.inputs[3]);
  }
  const float s_in = in_range->scale(), s_out = out_range->scale();
  const dt src_dt = int8_type(*in_range), dst_dt = int8_type(*out_range);
  // Without VNNI, oneDNN's int8 kernels add pairs of u8 x s8 products in saturating int16. For an s8 source it
  // halves the weights itself ("sa0.5" in its verbose log); for u8 it does not, and 255 * 127 * 2 overflows int16:
  // weights of 7 bits here (255 * 63 * 2 fits). MobileNetV2's int8 top-1 agreed with fp32 on 7 of 8 images on AVX2.
  const float limit = cpu_kernels().vnni || src_dt == dt::s8 ? 127.0f : 63.0f;
  std::vector<float> w_scale;
  const Tensor wq = quantize_weights(w, limit, w_scale);

  // The accumulator (sum of q_src * q_w) times s_in * w_scale[m] is the real value. Output scales take it to the
  // unit in which the post-ops work: the residual's step (the binary add reads the residual's int8 steps as they
  // are), else the output's step when the activation commutes with a positive scale (Relu), else real values.
  // A final linear post-op takes that unit to the output's step; oneDNN rounds and saturates when writing.
  const std::string act = node.attr_string("_activation", "");
  const bool homogeneous = act.empty() || act == "Relu" || act == "LeakyRelu";
  const float residual_unit = residual >= 0 ? plan_.slots[residual].scale : 1.0f;
  const float unit = residual >= 0 ? residual_unit : homogeneous ? s_out : 1.0f;
  const memory::desc residual_md = residual >= 0 ? plan_.slots[residual].desc : memory::desc();
  dnnl::post_ops ops;
  if (residual >= 0) ops.append_binary(dnnl::algorithm::binary_add, residual_md);
  if (homogeneous) {
    append_activation(node, ops);
    if (unit != s_out) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, unit / s_out, 0.0f);
  } else {
    if (unit != 1.0f) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, unit, 0.0f);
    append_activation(node, ops);
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f / s_out, 0.0f);
  }
  std::vector<float> output_scales(M);
  for (int64_t m = 0; m < M; ++m) output_scales[m] = s_in * w_scale[m] / unit;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_output_scales(1 << 1, output_scales);  // per output channel (dimension 1 of dst)
  attr.set_post_ops(ops);
  // oneDNN 2.x adds the bias to the accumulator before the output scales: the bias in accumulator units.
  Tensor bias_q = Tensor::zeros(DataType::float32, {M});
  if (bias)
    for (int64_t m = 0; m < M; ++m) bias_q.mutable_data<float>()[m] = bias->data<float>()[m] / (s_in * w_scale[m]);

  const memory::desc w_any(wdims, dt::s8, tag::any), b_md({M}, dt::f32, tag::a);
  auto make_pd = [&](tag layout) {
    memory::desc src_md(dims_of(xs), src_dt, layout), dst_md(dims_of(ys), dst_dt, layout);
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                         src_md, w_any, b_md, dst_md, {win.sh, win.sw}, {win.dh - 1, win.dw - 1},
                                         {win.pt, win.pl}, {win.pb, win.pr});
    return dnnl::convolution_forward::primitive_desc(desc, attr, cpu_engine());
  };
  // The layout oneDNN's int8 kernels prefer (nhwc on avx512_core_vnni), then the blocked one; never ref:.
  std::optional<dnnl::convolution_forward::primitive_desc> chosen;
  for (tag layout : {tag::any, tag::nhwc, tag::nChw16c}) {
    try {
      auto pd = make_pd(layout);
      if (!is_reference_impl(pd)) {
        chosen = pd;
        break;
      }
    } catch (const dnnl::error&) {
      // no int8 kernel for this combination
    }
  }
  if (!chosen) return false;
  const auto& pd = *chosen;
  int src = device_as(node.inputs[0], pd.src_desc(), s_in);
  memory wm = weights_as(node.inputs[1] + (limit == 127.0f ? "#s8" : "#s7"), wq, wdims, group == 1 ? tag::oihw : tag::goihw, pd.weights_desc());
  memory bm = weights_as(node.name + "#int8-bias", bias_q, {M}, tag::a, pd.bias_desc());
  int dst = new_device_slot(pd.dst_desc(), ys);
  plan_.slots[dst].scale = s_out;
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
  if (const memory::desc scratch = pd.scratchpad_desc(); scratch.get_size() > 0)
    args.emplace_back(DNNL_ARG_SCRATCHPAD, new_device_slot(scratch, {static_cast<int64_t>(scratch.get_size())}));
  if (residual >= 0) args.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, residual);
  add_primitive(node, dnnl::convolution_forward(pd), args, {{DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}}, dst);
  return true;
}

// A concat of int8 values that share the output's range (the calibration gave them one): oneDNN copies bytes,
// nothing is requantised. An input in another form (a float value, another layout) is converted once.
bool Builder::concat_int8(const Node& node) {
  const ValueRange* out_range = range_of(node.outputs[0]);
  if (!out_range) return false;
  std::vector<std::string> ins;
  for (const auto& in : node.inputs) if (!in.empty()) ins.push_back(in);
  if (ins.size() < 2) return false;
  const auto first = shape_of(ins[0]);
  if (first.size() != 4) return false;
  int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += 4;
  if (axis < 0 || axis >= 4) return false;
  std::vector<int64_t> ys = first;
  ys[axis] = 0;
  for (const auto& in : ins) {
    const auto s = shape_of(in);
    if (!float_input(in) || s.size() != 4) return false;
    for (int64_t d = 0; d < 4; ++d) if (d != axis && s[d] != first[d]) return false;
    ys[axis] += s[axis];
  }
  const dt type = int8_type(*out_range);
  // The layout the int8 producers wrote (nhwc from the int8 convs, as a rule).
  tag layout = tag::nhwc;
  for (const auto& in : ins) {
    if (!device_.count(in)) continue;
    const memory::desc& have = plan_.slots[device_primary(in)].desc;
    if (!is_int8(have.data_type())) continue;
    for (tag t : {tag::nhwc, tag::nChw16c, tag::nchw})
      if (have == memory::desc(have.dims(), have.data_type(), t)) layout = t;
    break;
  }
  std::vector<memory::desc> mds;
  for (const auto& in : ins) mds.emplace_back(dims_of(shape_of(in)), type, layout);
  dnnl::concat::primitive_desc pd(static_cast<int>(axis), mds, cpu_engine());
  if (is_reference_impl(pd)) return false;
  std::vector<std::pair<int, int>> args;
  for (size_t i = 0; i < ins.size(); ++i)
    args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), device_as(ins[i], mds[i], out_range->scale()));
  int dst = new_device_slot(pd.dst_desc(), ys);
  plan_.slots[dst].scale = out_range->scale();
  args.emplace_back(DNNL_ARG_DST, dst);
  add_primitive(node, dnnl::concat(pd), args, {}, dst);
  return true;
}

}  // namespace xfer::nn
