#pragma once
// Helpers the graph passes share (internal to nn/: passes.cpp, attention_passes.cpp).
#include <map>
#include <string>
#include <vector>

#include "nn/graph.h"

namespace xfer::nn {

// How many node inputs read each value; graph outputs count 1000 (never fused away).
std::map<std::string, int> consumer_counts(const Graph& g);
// The index of the node that computes each value.
std::map<std::string, size_t> producers(const Graph& g);
// `base`, or `base#2`, `base#3`, ...: a value name the graph does not use yet.
std::string fresh_name(const Graph& g, const std::string& base);
void rename_input(Graph& g, const std::string& from, const std::string& to);
// Drops the nodes marked removed, keeping the order of the rest.
void erase_nodes(Graph& g, const std::vector<bool>& removed);
bool is_float_const(const Graph& g, const std::string& name);
// The constant value of `name`: an initializer or the output of a Constant node with a tensor value.
const Tensor* constant_value(const Graph& g, const std::string& name);
// The activation a conv or matmul can apply to its output as a fused "_activation", with ONNX's alpha/beta.
bool fusable_activation(const Graph& g, const Node& n, int64_t opset, std::string& act, float& alpha, float& beta);

// Exporters' written-out forms folded back into one op (nn/attention_passes.cpp): Swish and HardSwish from
// x * Sigmoid(x) and x * HardSigmoid(x), LayerNormalization from the ReduceMean/Sub/Pow/Sqrt/Div chain of opsets
// before 17, Gelu from its Erf form, an Einsum that is a batched matrix product as MatMul; then a MatMul by a constant matrix takes the Add of its bias and the activation after it.
void fold_transformer_patterns(Graph& g, int64_t opset);

}  // namespace xfer::nn
