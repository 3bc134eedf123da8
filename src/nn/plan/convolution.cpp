// Convolution, pooling and normalisation on oneDNN: blocked layouts, Winograd, fused post-ops.
#include "nn/plan/builder.h"

#include <algorithm>
#include <optional>

#include "nn/errors.h"
#include "nn/reference_ops.h"
#include "util/log.h"

namespace xfer::nn {

std::vector<Builder::PlannerEntry> Builder::convolution_planners() {
  return {{"Conv", &Builder::conv}, {"MaxPool", &Builder::pool}, {"AveragePool", &Builder::pool},
          {"GlobalAveragePool", &Builder::pool}, {"GlobalMaxPool", &Builder::pool},
          {"BatchNormalization", &Builder::batch_norm}, {"LRN", &Builder::lrn},
          {"ReduceMean", &Builder::spatial_mean}};
}

// A node's fused tail as oneDNN post-ops: a binary add reading `residual` (a conv's residual, a pool's moved
// bias), then the activation.
dnnl::primitive_attr Builder::activation_attr(const Node& node, const memory::desc* residual) const {
  dnnl::primitive_attr attr;
  // The conv's scratch space (Winograd's transformed tiles: up to 450 MB at batch 32) comes from the arena,
  // where it shares bytes with activations that are dead while the conv runs, instead of a separate
  // library-owned buffer sized for the largest conv.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  if (residual) ops.append_binary(dnnl::algorithm::binary_add, *residual);
  if (append_activation(node, ops) || residual) attr.set_post_ops(ops);
  return attr;
}

bool Builder::append_activation(const Node& node, dnnl::post_ops& ops) const {
  std::string act = node.attr_string("_activation", "");
  if (act.empty()) return false;
  float alpha = node.attr_float("_alpha", 0), beta = node.attr_float("_beta", 0);
  if (act == "Relu") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  else if (act == "LeakyRelu") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, alpha, 0.0f);
  else if (act == "Clip") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip_v2, std::max(alpha, -3.4e38f), std::min(beta, 3.4e38f));
  else if (act == "Sigmoid") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f);
  else if (act == "Tanh") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f);
  else if (act == "HardSwish") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f);
  else if (act == "Swish") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
  else if (act == "Gelu") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
  else if (act == "HardSigmoid") {
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, alpha, beta);
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip_v2, 0.0f, 1.0f);
  } else {
    fail("node '{}': unknown fused activation '{}'", node.name, act);
  }
  return true;
}

bool Builder::conv(const Node& node) {
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
    const int64_t block = layout == tag::nChw8c ? 8 : 16;
    memory::desc src_md(dims_of(xs), compute_dt_, xs[1] % block == 0 ? layout : tag::any);
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
  // Grouped convs whose groups are not whole 16-channel blocks have no jit kernel in nChw16c: oneDNN 2.6 accepts the
  // layout but runs its naive ref:any kernel (ResNeXt50 30x slower than ONNX Runtime). In the layout oneDNN picks
  // for them (nChw4c/nChw8c/nhwc) its jit and brgemm kernels serve every channels-per-group count here, at the
  // price of a reorder on each side.
  const bool depthwise = w.shape[1] == 1 && M == group;
  const bool partial_blocks = group > 1 && !depthwise && (w.shape[1] % 16 || (M / group) % 16);
  if (partial_blocks) candidates.emplace_back(dnnl::algorithm::convolution_direct, tag::any);
  // Channels in whole 8-blocks but not 16-blocks (24, 72, 88, 120) are kept in nChw8c: padded to 16, their
  // depthwise convs have no jit kernel and go to nhwc and back around each. nChw8c is chosen where the value already
  // is in it (a channel shuffle wrote it, nn/plan/shape.cpp), where the image's first conv starts it, and where
  // every reader is a depthwise conv, as in the inverted-residual blocks of MNASNet and MobileNetV3 (MNASNet 0.5
  // batch 8: 15.5 -> 12.7 ms a batch, 8 -> 5 reorders). Not elsewhere: nChw8c costs reorders of its own where the
  // value meets 16-channel blocks (squeeze-excitation multiplies, EfficientNet's 24- and 40-channel projections:
  // 2 -> 11 reorders when every such conv wrote nChw8c).
  auto in_layout = device_.find(node.inputs[0]);
  const bool in_8c = in_layout != device_.end() &&
                     plan_.slots[in_layout->second].desc == memory::desc(dims_of(xs), compute_dt_, tag::nChw8c);
  const bool image = xs[1] < 8 && group == 1;
  bool binary_reader = false, only_depthwise_readers = false;
  if (auto r = readers_.find(node.outputs[0]); r != readers_.end()) {
    only_depthwise_readers = !r->second.empty();
    for (const Node* n : r->second) {
      binary_reader = binary_reader || n->op_type == "Add" || n->op_type == "Mul" || n->op_type == "Sub" ||
                      n->op_type == "Div";
      only_depthwise_readers = only_depthwise_readers && n->op_type == "Conv" && n->inputs[0] == node.outputs[0] &&
                               n->attr_int("group", 1) == M;
    }
  }
  const bool whole_8_blocks = M % 8 == 0 && (xs[1] % 8 == 0 || image);
  // The image's first conv writing whole 16-blocks (ResNet's 64) starts in nChw16c: its nChw8c output was reordered
  // straight after.
  const bool starts_8c = image ? M % 16 != 0 : in_8c && (xs[1] % 16 || M % 16);
  const bool feeds_8c_depthwise = group == 1 && M % 16 != 0 && only_depthwise_readers;
  if (whole_8_blocks && !binary_reader && (group == 1 || depthwise) && (starts_8c || feeds_8c_depthwise))
    candidates.emplace_back(dnnl::algorithm::convolution_direct, tag::nChw8c);
  candidates.emplace_back(dnnl::algorithm::convolution_direct, tag::nChw16c);
  candidates.emplace_back(dnnl::algorithm::convolution_direct, tag::any);
  // The first candidate oneDNN serves with a real kernel; a ref: one only when nothing else is offered.
  std::optional<dnnl::convolution_forward::primitive_desc> chosen, fallback;
  tag chosen_layout = tag::any, fallback_layout = tag::any;
  for (const auto& [alg, layout] : candidates) {
    try {
      auto pd = make_pd(alg, layout);
      if (!is_reference_impl(pd)) {
        chosen = pd;
        chosen_layout = layout;
        break;
      }
      if (!fallback) {
        fallback = pd;
        fallback_layout = layout;
      }
    } catch (const dnnl::error&) {
      // no kernel at all for this combination: try the next
    }
  }
  if (!chosen) {
    if (!fallback) return false;
    chosen = fallback;
    chosen_layout = fallback_layout;
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

bool Builder::pool(const Node& node) {
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
  std::vector<int64_t> ys = {xs[0], xs[1], win.oh, win.ow};
  // src: a float slot, or an int8 one (int8 plans; not the global pools, whose outputs are the features and
  // stay fp32). An int8 pool with no fused tail keeps its input's type and scale (max and average stay in range);
  // one with a bias and activation (the pool moved below a 1x1 conv) writes its own calibrated range.
  auto plan_pool = [&](int src, bool int8) {
    const memory::desc src_md = plan_.slots[src].desc;  // a copy: the plain fallback below may grow the slots
    const float s_in = plan_.slots[src].scale;
    dt dst_type = src_md.data_type();
    float s_out = s_in;
    dnnl::primitive_attr attr;
    std::vector<std::pair<int, memory>> int8_tail;  // the constant operands of an int8 pool's post-ops
    if (int8 && (bias || node.has_attr("_activation"))) {
      // oneDNN's int8 pooling writes its input's type: an s8 input (the conv before the pool, not yet through the
      // bias and Relu) gives an s8 output over the calibrated range, requantised to u8 where a reader wants that.
      const ValueRange* out_range = range_of(node.outputs[0]);
      if (!out_range) throw dnnl::error(dnnl_unimplemented, "no calibrated range for the pool's output");
      s_out = out_range->threshold / (dst_type == dt::u8 ? 255.0f : 127.0f);
      // In output steps: x * s_in / s_out + bias / s_out, then the activation (one that commutes with a positive
      // scale). The scalings are binary post-ops: oneDNN 2.6's int8 pooling gives every eltwise post-op the first
      // one's parameters, so a single eltwise (the activation) is all it can take.
      const std::string act = node.attr_string("_activation", "");
      if (!act.empty() && act != "Relu") throw dnnl::error(dnnl_unimplemented, "int8 pool tail other than Relu");
      Tensor factor = Tensor::zeros(DataType::float32, {1, 1, 1, 1});
      factor.mutable_data<float>()[0] = s_in / s_out;
      Tensor shift = Tensor::zeros(DataType::float32, {1, xs[1], 1, 1});
      for (int64_t c = 0; c < xs[1]; ++c) shift.mutable_data<float>()[c] = bias ? bias->data<float>()[c] / s_out : 0.0f;
      const memory::desc factor_md({1, 1, 1, 1}, dt::f32, tag::abcd);
      int8_tail.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                             weights_as(node.name + "#int8-factor", factor, {1, 1, 1, 1}, tag::abcd, factor_md));
      int8_tail.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1,
                             weights_as(node.name + "#int8-shift", shift, {1, xs[1], 1, 1}, tag::abcd, bias_md));
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      dnnl::post_ops ops;
      ops.append_binary(dnnl::algorithm::binary_mul, factor_md);
      ops.append_binary(dnnl::algorithm::binary_add, bias_md);
      append_activation(node, ops);
      attr.set_post_ops(ops);
    } else if (!int8) {
      attr = activation_attr(node, bias ? &bias_md : nullptr);
    } else {
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    }
    auto make_pd = [&](const memory::desc& from) {
      memory::desc dst_any(dims_of(ys), dst_type, tag::any);
      dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, from, dst_any, {win.sh, win.sw},
                                          {win.kh, win.kw}, {win.dh - 1, win.dw - 1}, {win.pt, win.pl}, {pb, pr});
      return dnnl::pooling_v2_forward::primitive_desc(desc, attr, cpu_engine());
    };
    // bf16 pooling has no jit kernel in nChw8c (RegNetY's squeeze-excitation pools after its narrow grouped
    // convs): the plain copy has one.
    auto pd = int8 ? make_pd(src_md) : with_plain_fallback(node.inputs[0], src, make_pd);
    if (int8 && is_reference_impl(pd)) throw dnnl::error(dnnl_unimplemented, "int8 pooling on a ref: kernel");
    int dst = new_device_slot(pd.dst_desc(), ys);
    plan_.slots[dst].scale = is_int8(pd.dst_desc().data_type()) ? s_out : 1.0f;
    std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
    if (const memory::desc scratch = pd.scratchpad_desc(); scratch.get_size() > 0)
      args.emplace_back(DNNL_ARG_SCRATCHPAD, new_device_slot(scratch, {static_cast<int64_t>(scratch.get_size())}));
    std::vector<std::pair<int, memory>> consts = int8_tail;
    if (bias && !int8)
      consts.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                          weights_as(node.inputs[1], *bias, {1, xs[1], 1, 1}, tag::abcd, bias_md));
    add_primitive(node, dnnl::pooling_v2_forward(pd), args, consts, dst);
  };
  if (opt_.precision == Precision::int8 && op.rfind("Global", 0) != 0) {
    int primary = device_primary(node.inputs[0]);
    if (is_int8(plan_.slots[primary].desc.data_type())) {
      try {
        plan_pool(primary, true);
        return true;
      } catch (const dnnl::error& e) {
        // no int8 kernel for this case: the pool runs on the dequantised value
        spdlog::debug("node '{}' ({}): no int8 pooling kernel ({}); pooling in fp32", node.name, op, e.what());
      }
    }
  }
  plan_pool(device_form(node.inputs[0]), false);
  return true;
}

// ReduceMean over the two spatial axes of a 4-D value (MNASNet's head, `x.mean([2, 3])`) is a global average pool:
// oneDNN's pooling in the layout the value already has. The reference kernel needed the value on the host (a reorder
// out of the blocked layout) and reduces one element at a time: 0.28 ms of MNASNet 0.5's 5.1 ms at batch 1, plus
// 0.09 ms of copies; as a pool 0.03 ms and a 0.01 ms reorder of the [N, C] result.
bool Builder::spatial_mean(const Node& node) {
  const auto xs = shape_of(node.inputs[0]);
  if (xs.size() != 4 || !device_.count(node.inputs[0])) return false;
  std::vector<int64_t> axes;
  if (g_.source.opset >= 18) {
    if (node.inputs.size() < 2 || node.inputs[1].empty() || !is_constant(node.inputs[1])) return false;
    const Tensor a = constant(node.inputs[1]);
    if (a.type != DataType::int64) return false;
    axes.assign(a.data<int64_t>(), a.data<int64_t>() + a.element_count());
  } else {
    axes = node.attr_ints("axes");
  }
  for (auto& a : axes) if (a < 0) a += 4;
  std::sort(axes.begin(), axes.end());
  if (axes != std::vector<int64_t>{2, 3}) return false;
  int src = device_form(node.inputs[0]);
  const std::vector<int64_t> ys = {xs[0], xs[1], 1, 1};
  memory::desc dst_any(dims_of(ys), plan_.slots[src].desc.data_type(), tag::any);
  dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_avg_exclude_padding,
                                      plan_.slots[src].desc, dst_any, {1, 1}, {xs[2], xs[3]}, {0, 0}, {0, 0}, {0, 0});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::pooling_v2_forward::primitive_desc pd(desc, attr, cpu_engine());
  if (is_reference_impl(pd)) return false;
  int dst = new_device_slot(pd.dst_desc(), ys);
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
  if (const memory::desc scratch = pd.scratchpad_desc(); scratch.get_size() > 0)
    args.emplace_back(DNNL_ARG_SCRATCHPAD, new_device_slot(scratch, {static_cast<int64_t>(scratch.get_size())}));
  add_primitive(node, dnnl::pooling_v2_forward(pd), args, {}, dst);
  // keepdims=0: the [N, C] result is the same bytes seen without the two 1s, once plain.
  if (node.attr_int("keepdims", 1) == 0) device_[node.outputs[0]] = new_view(plain_form(node.outputs[0]), {xs[0], xs[1]});
  return true;
}

// A BatchNormalization the passes could not fold into a conv (DenseNet's concat -> BN -> ReLU -> conv): oneDNN's
// inference batch norm in the layout its input has, instead of two reorders around the reference kernel.
bool Builder::batch_norm(const Node& node) {
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

bool Builder::lrn(const Node& node) {
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

}  // namespace xfer::nn
