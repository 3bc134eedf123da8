#pragma once
// Graph-level passes run when a model is compiled (nn/model.h). Each keeps ONNX semantics, except that a
// Conv may carry fused-activation attributes ("_activation", "_alpha", "_beta") and a fused residual ("_residual"
// with the residual as input 3); see nn/reference_ops.h.
#include <set>
#include <string>
#include <vector>

#include "nn/graph.h"

namespace xfer::nn {

// Cuts the graph after `outputs` (value names; a node name stands for its first output): they become the graph's
// outputs and every node they do not depend on is removed. Unknown names are an Error listing a few valid ones.
void cut_graph(Graph& graph, const std::vector<std::string>& outputs);

// Appends a global average or max pool (and a flatten) after a 4-D output so a spatial layer becomes one vector
// per image (a graph with metadata input_layout=nhwc is pooled over NHWC values); pool "none" or a non-spatial output leaves the graph unchanged. Returns the new output name.
std::string pool_output(Graph& graph, const std::string& output, int64_t output_rank, const std::string& pool);

// Identity and inference Dropout removed; BatchNormalization folded into the Conv before it; Add(conv, r) fused
// into the conv as a residual (input 3, "_residual"); a following activation fused into the Conv (after the
// residual); an AveragePool feeding a narrowing 1x1 Conv moved after it, taking the conv's bias and activation
// ("_bias" input 1); a Relu after a BatchNormalization left standing fused into it. Graph outputs are never renamed
// or removed.
void simplify_for_inference(Graph& graph);

// The tensor a classifier reads: the data input of the last Gemm/MatMul (the 2048-d pooled features of
// InceptionV3), else the first graph output.
std::string default_feature_layer(const Graph& graph);

// Resolves a layer given as a value name or a node name to a value name; throws Error when neither.
std::string resolve_layer(const Graph& graph, const std::string& layer);

}  // namespace xfer::nn
