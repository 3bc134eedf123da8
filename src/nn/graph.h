#pragma once
// The graph IR that every importer (ONNX, Keras HDF5, TF.js layers) targets and the engine compiles.
//
// Semantics are ONNX's: op types, attribute names and tensor layouts mean exactly what the ONNX operator
// spec says (Conv is NCHW with OIHW weights, pads are [begin..., end...], and so on). An importer of another
// format translates into these ops (Keras NHWC models get Transpose nodes at their edges and OIHW weights),
// so there is one operator set, one reference implementation per op and one conformance suite for all formats.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace xfer::nn {

enum class DataType { float32, float16, bfloat16, float64, int8, uint8, int32, int64, boolean };

size_t element_size(DataType type);
const char* to_string(DataType type);

// A constant tensor (an initializer or an attribute). Shape [] is a scalar. Data is C-order.
struct Tensor {
  DataType type = DataType::float32;
  std::vector<int64_t> shape;
  std::shared_ptr<std::vector<unsigned char>> bytes;  // shared: folding and fusing passes copy Tensors freely

  int64_t element_count() const;
  template <typename T> const T* data() const { return reinterpret_cast<const T*>(bytes->data()); }
  template <typename T> T* mutable_data() { return reinterpret_cast<T*>(bytes->data()); }
  static Tensor zeros(DataType type, std::vector<int64_t> shape);
};

// A graph edge's declared or inferred type. A dimension < 0 is unknown (the batch dimension, typically).
struct ValueInfo {
  std::string name;
  DataType type = DataType::float32;
  std::vector<int64_t> shape;
};

using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>, Tensor>;

struct Node {
  std::string name;                  // unique in the graph; used in error messages and as a layer name
  std::string op_type;               // ONNX op type, e.g. "Conv"
  std::vector<std::string> inputs;   // value names; "" is an omitted optional input
  std::vector<std::string> outputs;  // value names
  std::map<std::string, Attribute> attributes;

  // Typed attribute access with a default; a present attribute of the wrong type is an Error naming the node.
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, const std::vector<int64_t>& fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key, const std::vector<float>& fallback = {}) const;
  const Tensor* attr_tensor(const std::string& key) const;
  bool has_attr(const std::string& key) const { return attributes.count(key) != 0; }
};

// Where a graph came from, for messages, `model info` and the pipeline file.
struct ModelSource {
  std::string format;     // "onnx", "keras-h5", "tfjs-layers", "builtin"
  std::string path;
  int64_t opset = 0;      // ONNX default-domain opset (0 when not ONNX)
  std::string producer;   // e.g. "pytorch 1.13.1", "keras 2.2.4"
};

struct Graph {
  std::vector<ValueInfo> inputs;        // runtime inputs only (not initializers)
  std::vector<ValueInfo> outputs;
  std::map<std::string, Tensor> initializers;
  std::vector<Node> nodes;              // topologically sorted after import (importers sort or reject cycles)
  ModelSource source;
  // Hints an importer knows about the model's expected input (e.g. Keras InceptionV3: 299x299, "tf" mode).
  std::map<std::string, std::string> metadata;
};

}  // namespace xfer::nn
