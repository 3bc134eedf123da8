// Dense ops on oneDNN: Gemm and MatMul by a constant matrix as inner products.
#include "nn/plan/builder.h"

#include <optional>

namespace xfer::nn {

std::vector<Builder::PlannerEntry> Builder::attention_planners() {
  return {{"Gemm", &Builder::inner_product}, {"MatMul", &Builder::inner_product}};
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

}  // namespace xfer::nn
