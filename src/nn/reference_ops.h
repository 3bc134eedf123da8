#pragma once
// The plain reference kernel of every supported operator: naive loops that follow the ONNX operator spec
// literally, for any supported data type. They are the engine's ground truth (the oneDNN path is tested against
// them), its constant folder, and the fallback for ops and cases oneDNN does not cover.
//
// Conv nodes may carry fused-activation attributes written by the fusion pass (nn/passes.h):
// "_activation" (Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish), "_alpha", "_beta", and
// "_residual": input 3 is added to the conv's output (ONNX Add broadcasting) before the activation.
// AveragePool nodes may carry "_bias" (input 1: one value per channel, added to the average) and the same
// activation attributes, applied after the bias. A BatchNormalization may carry "_activation" = "Relu".
#include <string>
#include <vector>

#include "nn/graph.h"

namespace xfer::nn {

// The operators the engine implements (ONNX default domain).
const std::vector<std::string>& supported_ops();
bool is_supported_op(const std::string& op_type);

// Runs `node` under ONNX opset `opset`. inputs[i] is nullptr for an omitted optional input. Throws
// UnsupportedError (naming op, node, opset) for anything not implemented, Error for invalid inputs.
std::vector<Tensor> run_reference(const Node& node, const std::vector<const Tensor*>& inputs, int64_t opset);

// Conv/pool geometry from kernel_shape/strides/dilations/pads/auto_pad/ceil_mode for 1-D or 2-D input
// (1-D as height 1). Dilations are ONNX's (1 = dense); pads are the effective ones (after auto_pad).
struct SpatialWindow {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t oh = 1, ow = 1;
};
SpatialWindow spatial_window(const Node& node, int64_t opset, const std::vector<int64_t>& spatial,
                             const std::vector<int64_t>& kernel);

// What a Slice node takes of an input of `shape` (inputs: the node's, the data input's bytes unused): per axis the
// first index, the step and the count.
struct SliceWindow {
  std::vector<int64_t> start, step, shape;
};
SliceWindow slice_window(const Node& node, int64_t opset, const std::vector<int64_t>& shape,
                         const std::vector<const Tensor*>& inputs);

// y = activation(x) for the fusable activations (the names above); alpha/beta as in ONNX (Clip: min/max).
float apply_activation(const std::string& activation, float alpha, float beta, float x);

// Tensor <-> float conversions used by tests and the engine's edges.
std::vector<float> to_float_vector(const Tensor& t);
Tensor make_float_tensor(std::vector<int64_t> shape, const float* data);

}  // namespace xfer::nn
