// Dense and attention ops on oneDNN: Gemm as an inner product; MatMul (by a constant matrix, with its fused bias
// and activation as post-ops, or between two activations, batched with broadcasting) as matmul; Softmax;
// LayerNormalization.
#include "nn/plan/builder.h"
#include "nn/plan/channel_views.h"

#include <functional>
#include <numeric>
#include <optional>

namespace xfer::nn {

std::vector<Builder::PlannerEntry> Builder::attention_planners() {
  return {{"Gemm", &Builder::inner_product}, {"MatMul", &Builder::matmul}, {"Softmax", &Builder::softmax},
          {"LayerNormalization", &Builder::layer_norm}};
}

// Gemm with constant B (and C) or MatMul by a constant 2-D matrix: a oneDNN inner product.
bool Builder::inner_product(const Node& node) {
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
  std::vector<int64_t> ys = {as[0], N};
  memory::desc src_any({as[0], K}, compute_dt_, tag::any), w_any({N, K}, compute_dt_, tag::any);
  memory::desc b_md({N}, dt::f32, tag::a), dst_md({as[0], N}, dt::f32, tag::ab);
  dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, src_any, w_any, b_md, dst_md);
  dnnl::inner_product_forward::primitive_desc pd(desc, cpu_engine());
  int src = device_as(node.inputs[0], pd.src_desc());
  // Unscaled weights (what exporters write: alpha 1, beta 1) are reordered from the file's tensor itself, [N, K]
  // read as "ab" or its transpose [K, N] as "ba", so the model can release its plain bytes after the plan
  // (Model::release_absorbed_weights): VGG and AlexNet hold 90% of their weights in these. Scaled ones are
  // prepared once per node as alpha * B and beta * C.
  memory wm, bm;
  if (alpha == 1.0f) {
    wm = weights_as(node.inputs[1], b, {N, K}, tb ? tag::ab : tag::ba, pd.weights_desc());
  } else {
    auto& prepared = prepared_[node.name + "/ip"];
    if (!prepared.bytes) {
      prepared = Tensor::zeros(DataType::float32, {N, K});
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          prepared.mutable_data<float>()[n * K + k] = alpha * b.data<float>()[tb ? n * K + k : k * N + n];
    }
    wm = weights_as(node.name + "/ip", prepared, {N, K}, tag::ab, pd.weights_desc());
  }
  if (c && beta == 1.0f) {
    bm = weights_as(node.inputs[2], *c, {N}, tag::a, pd.bias_desc());
  } else {
    auto& prepared = prepared_bias_[node.name + "/ip"];
    if (!prepared.bytes) {
      prepared = Tensor::zeros(DataType::float32, {N});
      if (c) for (int64_t n = 0; n < N; ++n) prepared.mutable_data<float>()[n] = beta * c->data<float>()[n];
    }
    bm = weights_as(node.name + "/ip/bias", prepared, {N}, tag::a, pd.bias_desc());
  }
  int dst = new_device_slot(pd.dst_desc(), ys);
  add_primitive(node, dnnl::inner_product_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                {{DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}}, dst);
  return true;
}

// A value on the device in the plain layout and data type `type`, seen with leading 1s up to `rank` dimensions.
int Builder::plain_padded(const std::string& name, size_t rank, dt type) {
  const auto shape = shape_of(name);
  int s = device_form(name);
  memory::desc plain(dims_of(shape), type, plain_tag(shape.size()));
  if (plan_.slots[s].desc != plain) s = device_as(name, plain);
  if (shape.size() == rank) return s;
  std::vector<int64_t> padded(rank - shape.size(), 1);
  padded.insert(padded.end(), shape.begin(), shape.end());
  int view = new_slot(true, padded, DataType::float32);
  plan_.slots[view].desc = memory::desc(dims_of(padded), type, plain_tag(rank));
  plan_.slots[view].alias_device = s;
  return view;
}

// MatMul on oneDNN's matmul: A [..., M, K] by B [..., K, N], batch dimensions broadcast. A constant 2-D B is
// reordered once into the layout the primitive picks; a fused bias and activation are applied as post-ops, a fused
// scale of A as the output scale.
bool Builder::matmul(const Node& node) {
  if (node.inputs.size() < 2 || !float_input(node.inputs[1])) return false;
  const bool bias_fused = node.attr_int("_bias", 0) != 0;
  // A scale of A (attention's query scaling, nn/attention_passes.cpp) that is one value is the product's output
  // scale; any other is left to the reference kernel, as is one beside a bias (which oneDNN would scale too).
  const bool scaled = node.attr_int("_scale_a", 0) != 0;
  float output_scale = 1.0f;
  if (scaled) {
    if (bias_fused || node.inputs.size() < 4 || !is_constant(node.inputs[3])) return false;
    const Tensor s = constant(node.inputs[3]);
    if (s.type != DataType::float32 || s.element_count() != 1) return false;
    output_scale = s.data<float>()[0];
  }
  const bool fused = bias_fused || node.has_attr("_activation") || scaled;
  // A 2-D product by a constant matrix without fused work: the inner product (the classifiers' path).
  if (!fused && shape_of(node.inputs[0]).size() == 2 && is_constant(node.inputs[1]) &&
      shape_of(node.inputs[1]).size() == 2 && inner_product(node))
    return true;
  const auto as = shape_of(node.inputs[0]), bs = shape_of(node.inputs[1]);
  if (as.size() < 2 || bs.size() < 2) return false;  // vector operands: the reference kernel
  size_t rank = std::max(as.size(), bs.size());
  if (rank > 6) return false;
  std::vector<int64_t> a(rank - as.size(), 1), b(rank - bs.size(), 1);
  a.insert(a.end(), as.begin(), as.end());
  b.insert(b.end(), bs.begin(), bs.end());
  const int64_t M = a[rank - 2], K = a[rank - 1], N = b[rank - 1];
  if (b[rank - 2] != K) return false;  // the reference kernel names the mismatch
  std::vector<int64_t> ys(rank);
  for (size_t d = 0; d + 2 < rank; ++d) {
    if (a[d] != b[d] && a[d] != 1 && b[d] != 1) return false;
    ys[d] = std::max(a[d], b[d]);
  }
  ys[rank - 2] = M;
  ys[rank - 1] = N;
  std::optional<Tensor> bias;
  if (bias_fused) {
    if (node.inputs.size() < 3 || !is_constant(node.inputs[2])) return false;
    bias = constant(node.inputs[2]);
    if (bias->type != DataType::float32 || bias->element_count() != N) return false;
  }
  const bool constant_weights = is_constant(node.inputs[1]) && bs.size() == 2;
  // By a constant matrix, every leading dimension of A is rows of one product: ViT's [50, 8, 768] x [768, 2304] is
  // one [400, 768] GEMM, where a batched matmul did 50 of 8 rows, each streaming the weights again (ViT's, Swin's,
  // MaxViT's and ConvNeXt's Linears). A and the result are plain row-major, so both are views.
  const std::vector<int64_t> out_shape = ys;
  const bool rows_of_one_product = constant_weights && rank > 2;
  if (rows_of_one_product) {
    const int64_t rows = M * std::accumulate(ys.begin(), ys.end() - 2, int64_t{1}, std::multiplies<>());
    a = {rows, K};
    b = {K, N};
    ys = {rows, N};
    rank = 2;
  }
  memory::desc a_md(dims_of(a), compute_dt_, plain_tag(rank));
  memory::desc b_md = constant_weights ? memory::desc(dims_of(b), compute_dt_, tag::any)
                                       : memory::desc(dims_of(b), compute_dt_, plain_tag(rank));
  std::vector<int64_t> bias_dims(rank, 1);
  bias_dims[rank - 1] = N;
  memory::desc bias_md(dims_of(bias_dims), dt::f32, plain_tag(rank));
  memory::desc y_md(dims_of(ys), compute_dt_, plain_tag(rank));
  dnnl::primitive_attr attr = activation_attr(node);
  if (scaled) attr.set_output_scales(0, {output_scale});
  auto make_pd = [&](const memory::desc& a_desc, const memory::desc& b_desc, const memory::desc& y_desc) {
    auto desc = bias ? dnnl::matmul::desc(a_desc, b_desc, bias_md, y_desc) : dnnl::matmul::desc(a_desc, b_desc, y_desc);
    return dnnl::matmul::primitive_desc(desc, attr, cpu_engine());
  };
  dnnl::matmul::primitive_desc pd = make_pd(a_md, b_md, y_md);
  // A product of two activations (attention's scores and their weighting of the values) in fp32 reads its operands
  // in the strided layouts they come in when their rows are along K (a part of the q/k/v projection's output, the
  // keys seen transposed), and writes its result in the order of the Transpose that alone reads it (the heads merged
  // back beside each token): 2 reorders fewer per attention block. Values strided along N stay copied: oneDNN's
  // gemm-based matmul reads them 1.5-3x slower than the copy costs (Swin-T's last stages, 1 thread). oneDNN takes
  // any strides; when it does not (or in bf16, whose kernels want dense operands) everything stays plain.
  int strided_src = -1, strided_weights = -1;
  if (!constant_weights && !rows_of_one_product && compute_dt_ == dt::f32) {
    auto strided = [&](const std::string& name, size_t unit_axis) {
      if (shape_of(name).size() != rank || !device_.count(name)) return -1;
      const int s = device_form(name);
      const memory::desc& d = plan_.slots[s].desc;
      const auto& blocking = d.data.format_desc.blocking;
      return d.data_type() == compute_dt_ && is_unblocked(d) && d.data.offset0 == 0 && blocking.strides[unit_axis] == 1
                 ? s : -1;
    };
    const int s = strided(node.inputs[0], rank - 1), w = strided(node.inputs[1], rank - 2);
    memory::desc y_transposed = y_md;
    if (only_read_by(node.outputs[0], "Transpose") && readers_.at(node.outputs[0]).size() == 1) {
      const std::vector<int64_t> perm = readers_.at(node.outputs[0])[0]->attr_ints("perm");
      std::vector<int64_t> transposed(rank);
      std::vector<int> back(rank);  // axis i of the Transpose's output is axis perm[i] of the product
      bool valid = perm.size() == rank;
      for (size_t i = 0; valid && i < rank; ++i) {
        valid = perm[i] >= 0 && perm[i] < static_cast<int64_t>(rank);
        if (valid) {
          transposed[i] = ys[perm[i]];
          back[i] = static_cast<int>(perm[i]);
        }
      }
      if (valid) y_transposed = memory::desc(dims_of(transposed), compute_dt_, plain_tag(rank)).permute_axes(back);
    }
    if (s >= 0 || w >= 0 || y_transposed != y_md) {
      try {
        auto candidate = make_pd(s >= 0 ? plan_.slots[s].desc : a_md, w >= 0 ? plan_.slots[w].desc : b_md, y_transposed);
        if (!is_reference_impl(candidate)) {
          pd = candidate;
          strided_src = s;
          strided_weights = w;
        }
      } catch (const dnnl::error&) {  // no kernel for these strides: the plain operands above
      }
    }
  }
  int src = rows_of_one_product ? new_view(plain_padded(node.inputs[0], as.size(), compute_dt_), a)
          : strided_src >= 0    ? strided_src
                                : plain_padded(node.inputs[0], rank, compute_dt_);
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}};
  std::vector<std::pair<int, memory>> consts;
  if (constant_weights) {
    consts.emplace_back(DNNL_ARG_WEIGHTS, weights_as(node.inputs[1], constant(node.inputs[1]), dims_of(b),
                                                     plain_tag(rank), pd.weights_desc()));
  } else {
    args.emplace_back(DNNL_ARG_WEIGHTS, strided_weights >= 0 ? strided_weights : plain_padded(node.inputs[1], rank, compute_dt_));
  }
  if (bias) consts.emplace_back(DNNL_ARG_BIAS, weights_as(node.inputs[2], *bias, dims_of(bias_dims), plain_tag(rank), bias_md));
  int dst = new_device_slot(pd.dst_desc(), ys);
  args.emplace_back(DNNL_ARG_DST, dst);
  if (const memory::desc scratch = pd.scratchpad_desc(); scratch.get_size() > 0)
    args.emplace_back(DNNL_ARG_SCRATCHPAD, new_device_slot(scratch, {static_cast<int64_t>(scratch.get_size())}));
  add_primitive(node, dnnl::matmul(pd), args, consts, dst);
  if (rows_of_one_product) device_[node.outputs[0]] = new_view(dst, out_shape);
  return true;
}

// Softmax along one axis (opset 13 on; before it, only along the last axis, where the two definitions agree).
bool Builder::softmax(const Node& node) {
  if (!device_.count(node.inputs[0])) return false;
  const auto xs = shape_of(node.inputs[0]);
  const auto rank = static_cast<int64_t>(xs.size());
  if (rank < 1 || rank > 6) return false;
  int64_t axis = node.attr_int("axis", g_.source.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank || (g_.source.opset < 13 && axis != rank - 1)) return false;
  auto make_pd = [&](const memory::desc& md) {
    memory::desc dst_any(md.dims(), md.data_type(), tag::any);
    dnnl::softmax_v2_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::softmax_accurate, md,
                                        dst_any, static_cast<int>(axis));
    return dnnl::softmax_v2_forward::primitive_desc(desc, cpu_engine());
  };
  int src = device_form(node.inputs[0]);
  const auto pd = with_plain_fallback(node.inputs[0], src, make_pd);
  if (is_reference_impl(pd)) return false;
  int dst = new_device_slot(pd.dst_desc(), xs);
  add_primitive(node, dnnl::softmax_v2_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, dst);
  return true;
}

// LayerNormalization over the axes from `axis` on: oneDNN normalises the last dimension, so the value is seen
// as [outer, normalised size] in its plain layout; Scale and B (constants) become per-element vectors.
bool Builder::layer_norm(const Node& node) {
  if (!device_.count(node.inputs[0]) || node.inputs.size() < 2 || !is_constant(node.inputs[1])) return false;
  for (size_t i = 1; i < node.outputs.size(); ++i) if (!node.outputs[i].empty()) return false;
  if (node.attr_int("stash_type", 1) != 1) return false;
  const auto xs = shape_of(node.inputs[0]);
  const auto rank = static_cast<int64_t>(xs.size());
  if (rank < 1 || rank > 6) return false;
  int64_t axis = node.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  int64_t len = 1;
  for (int64_t d = axis; d < rank; ++d) len *= xs[d];
  const int64_t outer = std::max<int64_t>(1, std::accumulate(xs.begin(), xs.begin() + axis, int64_t{1}, std::multiplies<>()));
  // Scale and B broadcast over the normalised block; as vectors of its `len` values, prepared once.
  const std::string key = node.name + "/layer_norm";
  if (!prepared_.count(key)) {
    std::vector<int64_t> norm_shape(xs.begin() + axis, xs.end());
    Tensor scale_shift = Tensor::zeros(DataType::float32, {2, len});
    for (int k = 0; k < 2; ++k) {
      if (k == 1 && (node.inputs.size() < 3 || node.inputs[2].empty())) break;
      if (!is_constant(node.inputs[1 + k])) return false;
      const Tensor t = constant(node.inputs[1 + k]);
      if (t.type != DataType::float32 || t.shape.size() > norm_shape.size()) return false;
      // Offsets of t's element for each position of the block (numpy broadcast from the right).
      std::vector<int64_t> strides(norm_shape.size(), 0);
      int64_t stride = 1;
      for (size_t d = 0; d < t.shape.size(); ++d) {
        size_t nd = norm_shape.size() - 1 - d, td = t.shape.size() - 1 - d;
        if (t.shape[td] != 1 && t.shape[td] != norm_shape[nd]) return false;
        strides[nd] = t.shape[td] == 1 ? 0 : stride;
        stride *= t.shape[td];
      }
      std::vector<int64_t> idx(norm_shape.size(), 0);
      for (int64_t i = 0; i < len; ++i) {
        int64_t off = 0;
        for (size_t d = 0; d < norm_shape.size(); ++d) off += idx[d] * strides[d];
        scale_shift.mutable_data<float>()[k * len + i] = t.data<float>()[off];
        for (size_t d = norm_shape.size(); d-- > 0;) {
          if (++idx[d] < norm_shape[d]) break;
          idx[d] = 0;
        }
      }
    }
    prepared_[key] = scale_shift;
  }
  const Tensor& scale_shift = prepared_[key];
  int src = plain_form(node.inputs[0]);
  if (src < 0) return false;
  const memory::desc& have = plan_.slots[src].desc;
  if (axis != rank - 1) {  // [outer, len]
    int flat = new_slot(true, {outer, len}, DataType::float32);
    plan_.slots[flat].desc = memory::desc({outer, len}, have.data_type(), tag::ab);
    plan_.slots[flat].alias_device = src;
    src = flat;
  }
  const memory::desc& md = plan_.slots[src].desc;
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  dnnl::layer_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, md,
                                               node.attr_float("epsilon", 1e-5f), flags);
  dnnl::layer_normalization_forward::primitive_desc pd(desc, cpu_engine());
  if (is_reference_impl(pd)) return false;
  const memory::dims out_dims = md.dims();
  int dst = new_device_slot(pd.dst_desc(), std::vector<int64_t>(out_dims.begin(), out_dims.end()));
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
  if (const memory::desc mean = pd.mean_desc(); mean.get_size() > 0) {
    const memory::dims stat_dims = mean.dims();
    args.emplace_back(DNNL_ARG_MEAN, new_device_slot(mean, std::vector<int64_t>(stat_dims.begin(), stat_dims.end())));
    args.emplace_back(DNNL_ARG_VARIANCE, new_device_slot(pd.variance_desc(), std::vector<int64_t>(stat_dims.begin(), stat_dims.end())));
  }
  if (const memory::desc scratch = pd.scratchpad_desc(); scratch.get_size() > 0)
    args.emplace_back(DNNL_ARG_SCRATCHPAD, new_device_slot(scratch, {static_cast<int64_t>(scratch.get_size())}));
  Tensor scale = Tensor::zeros(DataType::float32, {len}), shift = Tensor::zeros(DataType::float32, {len});
  std::copy_n(scale_shift.data<float>(), len, scale.mutable_data<float>());
  std::copy_n(scale_shift.data<float>() + len, len, shift.mutable_data<float>());
  memory::desc vec({len}, dt::f32, tag::a);
  std::vector<std::pair<int, memory>> consts = {{DNNL_ARG_SCALE, weights_as(key + "/scale", scale, {len}, tag::a, vec)},
                                                {DNNL_ARG_SHIFT, weights_as(key + "/shift", shift, {len}, tag::a, vec)}};
  add_primitive(node, dnnl::layer_normalization_forward(pd), args, consts, dst);
  if (axis != rank - 1) device_[node.outputs[0]] = new_view(dst, xs);
  return true;
}

}  // namespace xfer::nn
