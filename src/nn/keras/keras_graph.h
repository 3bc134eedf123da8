#pragma once
// Keras model_config (Functional "Model"/"Functional" or "Sequential", Keras 2.x) + weights -> nn::Graph.
// The layout conventions are those of keras_import.h.
#include <string>

#include <nlohmann/json.hpp>

#include "nn/graph.h"
#include "nn/keras/keras_weights.h"

namespace xfer::nn::keras {

// model_config: {"class_name": ..., "config": ...}. Every weight in `weights` must be used by a layer and every
// layer's weights must be present with the shapes the layer implies; otherwise an Error naming the layer.
Graph build_keras_graph(const nlohmann::json& model_config, const KerasWeights& weights, const std::string& origin);

// The Keras layer classes build_keras_graph accepts.
const std::vector<std::string>& supported_keras_layers();

}  // namespace xfer::nn::keras
