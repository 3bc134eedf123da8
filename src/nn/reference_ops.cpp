#include "nn/reference_ops.h"

#include <algorithm>
#include <map>

#include "nn/errors.h"
#include "nn/float16.h"
#include "nn/reference/common.h"

namespace xfer::nn {
namespace {

// Every family's kernels, by op type: the one list of what the engine implements.
const std::map<std::string, reference::Kernel>& kernel_table() {
  static const std::map<std::string, reference::Kernel> table = [] {
    std::map<std::string, reference::Kernel> t;
    for (const auto& family : {reference::convolution_kernels(), reference::elementwise_kernels(),
                               reference::reduction_kernels(), reference::attention_kernels(),
                               reference::shape_kernels()})
      for (const auto& entry : family) t.emplace(entry.op_type, entry.run);
    return t;
  }();
  return table;
}

}  // namespace

const std::vector<std::string>& supported_ops() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> names;
    for (const auto& [op, kernel] : kernel_table()) names.push_back(op);
    return names;
  }();
  return ops;
}

bool is_supported_op(const std::string& op_type) { return kernel_table().count(op_type) != 0; }

float apply_activation(const std::string& activation, float alpha, float beta, float x) {
  return reference::activation_value(activation, alpha, beta, x);
}

SpatialWindow spatial_window(const Node& node, int64_t opset, const std::vector<int64_t>& spatial,
                             const std::vector<int64_t>& kernel) {
  std::vector<const Tensor*> none;
  return reference::window_for(reference::Call{node, none, opset}, spatial, kernel);
}

SliceWindow slice_window(const Node& node, int64_t opset, const std::vector<int64_t>& shape,
                         const std::vector<const Tensor*>& inputs) {
  return reference::slice_window(reference::Call{node, inputs, opset}, shape);
}

std::vector<Tensor> run_reference(const Node& node, const std::vector<const Tensor*>& inputs, int64_t opset) {
  auto it = kernel_table().find(node.op_type);
  if (it == kernel_table().end())
    unsupported("node '{}': operator {} (opset {}) is not supported by the engine", node.name, node.op_type, opset);
  return it->second(reference::Call{node, inputs, opset});
}

std::vector<float> to_float_vector(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.element_count()));
  switch (t.type) {
    case DataType::float32: std::copy_n(t.data<float>(), v.size(), v.begin()); break;
    case DataType::float64: std::copy_n(t.data<double>(), v.size(), v.begin()); break;
    case DataType::float16: for (size_t i = 0; i < v.size(); ++i) v[i] = half_to_float(t.data<uint16_t>()[i]); break;
    case DataType::bfloat16: for (size_t i = 0; i < v.size(); ++i) v[i] = bfloat16_to_float(t.data<uint16_t>()[i]); break;
    case DataType::int8: std::copy_n(t.data<int8_t>(), v.size(), v.begin()); break;
    case DataType::uint8: std::copy_n(t.data<uint8_t>(), v.size(), v.begin()); break;
    case DataType::boolean: std::copy_n(t.data<uint8_t>(), v.size(), v.begin()); break;
    case DataType::int32: std::copy_n(t.data<int32_t>(), v.size(), v.begin()); break;
    case DataType::int64: std::copy_n(t.data<int64_t>(), v.size(), v.begin()); break;
  }
  return v;
}

Tensor make_float_tensor(std::vector<int64_t> shape, const float* data) {
  Tensor t = Tensor::zeros(DataType::float32, std::move(shape));
  std::copy_n(data, t.element_count(), t.mutable_data<float>());
  return t;
}

}  // namespace xfer::nn
