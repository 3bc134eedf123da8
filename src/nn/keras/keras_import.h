#pragma once
// Keras models (Keras 2.x HDF5 files, TF.js layers model.json + shards, and built-in keras.applications
// architectures by name) imported into the ONNX-semantics graph IR of nn/graph.h.
//
// Conventions of the graph this returns:
//  - The graph's one input is NHWC float32 [N, H, W, C], exactly what the Keras model takes (already
//    preprocessed: metadata["preprocessing"] says how). A Transpose to NCHW follows it; every spatial layer
//    is an NCHW ONNX op with OIHW weights.
//  - Inside the graph every 4-D value is NCHW. The value named after a Keras layer is in Keras' own layout:
//    for 4-D layers it is a Transpose view (NHWC) of the NCHW value "<layer>/nchw" that the next layers read
//    (the engine cuts views nobody asks for). So outputs and `--layer NAME` give exactly what Keras gives, and
//    pooling a layer means averaging over axes 1 and 2. Each layer's main node is named after the layer.
//  - source.opset = 13: the ops follow ONNX opset 13 (Clip and Pad take tensor inputs; Cropping2D is a Pad with
//    negative pads).
//  - TF 'same' padding becomes explicit asymmetric pads (the extra pixel at the bottom/right).
//  - metadata: "input_width", "input_height", "input_channels", "preprocessing" ("tf": x/127.5-1,
//    "caffe": BGR minus ImageNet means, "torch", or "none"), "input_layout" = "nhwc",
//    "default_feature_layer" (a Keras layer name), "keras_class_name" (Model/Functional/Sequential),
//    "architecture" when the layers are a recognised keras.applications model.
//  - Only the layers listed in keras_graph.cpp (supported_keras_layers()) are accepted; any other class, Lambda or custom object is an
//    Error naming the layer and its class. No code from a model file is ever run.
#include <string>
#include <vector>

#include "nn/graph.h"

namespace xfer::nn {

// path_or_name: a Keras HDF5 file (.h5/.hdf5/.keras: full model, or weights-only for a built-in name given as
// "name:path"), a TF.js layers model.json, or a built-in name (see keras_builtin_names()). A built-in name alone
// yields the architecture with weights looked up in the model cache (see keras_model_cache_dir()); a
// weights-only HDF5 is matched to the built-in architecture whose layer names it carries.
// Throws xfer::Error naming the file and the reason on any bad input.
Graph import_keras_model(const std::string& path_or_name);

// A built-in architecture with every weight zero: for `model info` and tests of the architecture itself.
Graph import_keras_architecture(const std::string& name, bool include_top);

// True when path_or_name is something import_keras_model handles (by extension or built-in name).
bool is_keras_model(const std::string& path_or_name);

// Built-in architecture names: inception_v3, mobilenet_v2, resnet50, vgg16, vgg19, xception, and the cached
// pretrained models (nsfwjs_inception_v3, nsfwjs_mobilenet_v2).
std::vector<std::string> keras_builtin_names();

// Where pretrained models are cached: $XFER_MODEL_CACHE, else $XDG_CACHE_HOME/xfer/models, else
// ~/.cache/xfer/models. nsfwjs models unwrap to <cache>/nsfwjs_inception_v3/model.json (scripts/fetch-nsfwjs.sh).
std::string keras_model_cache_dir();

}  // namespace xfer::nn
