#include "nn/graph.h"

#include "util/error.h"

namespace xfer::nn {

size_t element_size(DataType type) {
  switch (type) {
    case DataType::float32: return 4;
    case DataType::float16: return 2;
    case DataType::bfloat16: return 2;
    case DataType::float64: return 8;
    case DataType::int8: return 1;
    case DataType::uint8: return 1;
    case DataType::int32: return 4;
    case DataType::int64: return 8;
    case DataType::boolean: return 1;
  }
  return 0;
}

const char* to_string(DataType type) {
  switch (type) {
    case DataType::float32: return "float32";
    case DataType::float16: return "float16";
    case DataType::bfloat16: return "bfloat16";
    case DataType::float64: return "float64";
    case DataType::int8: return "int8";
    case DataType::uint8: return "uint8";
    case DataType::int32: return "int32";
    case DataType::int64: return "int64";
    case DataType::boolean: return "bool";
  }
  return "?";
}

int64_t Tensor::element_count() const {
  int64_t count = 1;
  for (auto d : shape) count *= d;
  return count;
}

Tensor Tensor::zeros(DataType type, std::vector<int64_t> shape) {
  Tensor t;
  t.type = type;
  t.shape = std::move(shape);
  t.bytes = std::make_shared<std::vector<unsigned char>>(static_cast<size_t>(t.element_count()) * element_size(type));
  return t;
}

namespace {
template <typename T>
const T* typed_attr(const Node& node, const std::string& key) {
  auto it = node.attributes.find(key);
  if (it == node.attributes.end()) return nullptr;
  const T* value = std::get_if<T>(&it->second);
  if (!value) fail("node '{}' ({}): attribute '{}' has the wrong type", node.name, node.op_type, key);
  return value;
}
}  // namespace

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  const auto* v = typed_attr<int64_t>(*this, key);
  return v ? *v : fallback;
}

float Node::attr_float(const std::string& key, float fallback) const {
  const auto* v = typed_attr<float>(*this, key);
  return v ? *v : fallback;
}

std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  const auto* v = typed_attr<std::string>(*this, key);
  return v ? *v : fallback;
}

std::vector<int64_t> Node::attr_ints(const std::string& key, const std::vector<int64_t>& fallback) const {
  const auto* v = typed_attr<std::vector<int64_t>>(*this, key);
  return v ? *v : fallback;
}

std::vector<float> Node::attr_floats(const std::string& key, const std::vector<float>& fallback) const {
  const auto* v = typed_attr<std::vector<float>>(*this, key);
  return v ? *v : fallback;
}

const Tensor* Node::attr_tensor(const std::string& key) const { return typed_attr<Tensor>(*this, key); }

}  // namespace xfer::nn
