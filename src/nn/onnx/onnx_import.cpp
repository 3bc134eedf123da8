#include "nn/onnx/onnx_import.h"

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <unordered_map>

#include "nn/errors.h"

namespace xfer::nn {
namespace fs = std::filesystem;
namespace {

// Far beyond any CNN (16 G elements), small enough that size arithmetic cannot overflow.
constexpr int64_t kMaxElements = int64_t{1} << 34;
constexpr int kMaxRank = 16;

struct Context {
  std::string name;   // the file, for messages
  fs::path base_dir;  // where external data may live
};

DataType data_type_from_onnx(int32_t t, const Context& ctx, const std::string& what) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DataType::float32;
    case onnx::TensorProto::FLOAT16: return DataType::float16;
    case onnx::TensorProto::BFLOAT16: return DataType::bfloat16;
    case onnx::TensorProto::DOUBLE: return DataType::float64;
    case onnx::TensorProto::INT8: return DataType::int8;
    case onnx::TensorProto::UINT8: return DataType::uint8;
    case onnx::TensorProto::INT32: return DataType::int32;
    case onnx::TensorProto::INT64: return DataType::int64;
    case onnx::TensorProto::BOOL: return DataType::boolean;
    default: break;
  }
  const char* type_name = onnx::TensorProto_DataType_IsValid(t)
                              ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t)).c_str()
                              : "invalid";
  unsupported("{}: {} has data type {} ({}), which the engine does not support", ctx.name, what, type_name, t);
}

int64_t checked_element_count(const std::vector<int64_t>& shape, const Context& ctx, const std::string& what) {
  if (shape.size() > kMaxRank) fail("{}: {} has rank {} (at most {} supported)", ctx.name, what, shape.size(), kMaxRank);
  int64_t count = 1;
  for (auto d : shape) {
    if (d < 0) fail("{}: {} has a negative dimension {}", ctx.name, what, d);
    if (d != 0 && count > kMaxElements / d) fail("{}: {} has an absurd shape (more than 2^34 elements)", ctx.name, what);
    count *= d;
  }
  return count;
}

// Reads [offset, offset+length) of an external-data file, refusing any path that leaves the model's folder.
std::vector<unsigned char> read_external(const onnx::TensorProto& proto, const Context& ctx, const std::string& what) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : proto.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoll(kv.value());
      else if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      fail("{}: {}: external data field '{}' is not a number: '{}'", ctx.name, what, kv.key(), kv.value());
    }
  }
  if (location.empty()) fail("{}: {}: external data without a location", ctx.name, what);
  if (ctx.base_dir.empty()) fail("{}: {}: external data is not allowed for a model read from memory", ctx.name, what);
  fs::path rel(location);
  if (rel.is_absolute() || location.front() == '/' || location.front() == '\\')
    fail("{}: {}: external data path '{}' is absolute; it must stay inside the model's folder", ctx.name, what, location);
  for (const auto& part : rel)
    if (part == "..") fail("{}: {}: external data path '{}' leaves the model's folder", ctx.name, what, location);
  std::error_code ec;
  fs::path base = fs::canonical(ctx.base_dir, ec);
  if (ec) fail("{}: cannot resolve the model's folder: {}", ctx.name, ec.message());
  fs::path target = fs::canonical(base / rel, ec);
  if (ec) fail("{}: {}: external data file '{}' cannot be opened: {}", ctx.name, what, location, ec.message());
  auto [mismatch, unused] = std::mismatch(base.begin(), base.end(), target.begin(), target.end());
  if (mismatch != base.end())
    fail("{}: {}: external data path '{}' resolves to {}, outside the model's folder", ctx.name, what, location,
         target.string());
  if (!fs::is_regular_file(target)) fail("{}: {}: external data '{}' is not a regular file", ctx.name, what, location);
  auto file_size = static_cast<int64_t>(fs::file_size(target));
  if (offset < 0 || offset > file_size) fail("{}: {}: external data offset {} is outside '{}' ({} bytes)", ctx.name, what, offset, location, file_size);
  if (length < 0) length = file_size - offset;
  if (length > file_size - offset)
    fail("{}: {}: external data '{}' has {} bytes after offset {}, {} needed", ctx.name, what, location,
         file_size - offset, offset, length);
  std::vector<unsigned char> bytes(static_cast<size_t>(length));
  std::ifstream in(target, std::ios::binary);
  in.seekg(offset);
  in.read(reinterpret_cast<char*>(bytes.data()), length);
  if (!in) fail("{}: {}: cannot read external data '{}'", ctx.name, what, location);
  return bytes;
}

template <typename Field>
void check_count(const Field& field, int64_t count, const Context& ctx, const std::string& what) {
  if (static_cast<int64_t>(field.size()) != count)
    fail("{}: {} has {} values, its shape needs {}", ctx.name, what, field.size(), count);
}

Tensor tensor_from_proto(const onnx::TensorProto& proto, const Context& ctx, const std::string& what_in = {}) {
  std::string what = what_in.empty() ? fmt::format("tensor '{}'", proto.name()) : what_in;
  if (proto.has_segment()) unsupported("{}: {} is segmented, which the engine does not support", ctx.name, what);
  Tensor t;
  t.type = data_type_from_onnx(proto.data_type(), ctx, what);
  t.shape.assign(proto.dims().begin(), proto.dims().end());
  int64_t count = checked_element_count(t.shape, ctx, what);
  size_t esize = element_size(t.type);
  size_t nbytes = static_cast<size_t>(count) * esize;
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    auto bytes = read_external(proto, ctx, what);
    if (bytes.size() != nbytes)
      fail("{}: {} has {} bytes of external data, its shape {} needs {}", ctx.name, what, bytes.size(),
           fmt::join(t.shape, "x"), nbytes);
    t.bytes = std::make_shared<std::vector<unsigned char>>(std::move(bytes));
    return t;
  }
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    if (raw.size() != nbytes)
      fail("{}: {} has {} bytes of data, its shape [{}] needs {}", ctx.name, what, raw.size(),
           fmt::join(t.shape, ","), nbytes);
    t.bytes = std::make_shared<std::vector<unsigned char>>(raw.begin(), raw.end());
    return t;
  }
  // The values are counted before anything is allocated: a hostile file can declare a 16 GB shape with no data.
  switch (t.type) {
    case DataType::float32: check_count(proto.float_data(), count, ctx, what); break;
    case DataType::float64: check_count(proto.double_data(), count, ctx, what); break;
    case DataType::int64: check_count(proto.int64_data(), count, ctx, what); break;
    default: check_count(proto.int32_data(), count, ctx, what); break;  // int32, 8-bit, bool, 16-bit floats
  }
  t.bytes = std::make_shared<std::vector<unsigned char>>(nbytes);
  unsigned char* out = t.bytes->data();
  switch (t.type) {
    case DataType::float32:
      std::memcpy(out, proto.float_data().data(), nbytes);
      break;
    case DataType::float64:
      std::memcpy(out, proto.double_data().data(), nbytes);
      break;
    case DataType::int64:
      std::memcpy(out, proto.int64_data().data(), nbytes);
      break;
    case DataType::int32:
      std::memcpy(out, proto.int32_data().data(), nbytes);
      break;
    case DataType::int8:
    case DataType::uint8:
    case DataType::boolean:
      for (int64_t i = 0; i < count; ++i) out[i] = static_cast<unsigned char>(proto.int32_data(static_cast<int>(i)));
      break;
    case DataType::float16:
    case DataType::bfloat16: {
      // 16-bit floats are stored as their bit patterns in int32_data.
      auto* o16 = reinterpret_cast<uint16_t*>(out);
      for (int64_t i = 0; i < count; ++i) o16[i] = static_cast<uint16_t>(proto.int32_data(static_cast<int>(i)));
      break;
    }
  }
  return t;
}

Attribute attribute_from_proto(const onnx::AttributeProto& a, const Context& ctx, const std::string& node) {
  switch (a.type()) {
    case onnx::AttributeProto::FLOAT: return a.f();
    case onnx::AttributeProto::INT: return a.i();
    case onnx::AttributeProto::STRING: return a.s();
    case onnx::AttributeProto::TENSOR:
      return tensor_from_proto(a.t(), ctx, fmt::format("attribute '{}' of node '{}'", a.name(), node));
    case onnx::AttributeProto::FLOATS: return std::vector<float>(a.floats().begin(), a.floats().end());
    case onnx::AttributeProto::INTS: return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case onnx::AttributeProto::STRINGS: return std::vector<std::string>(a.strings().begin(), a.strings().end());
    default:
      unsupported("{}: node '{}': attribute '{}' has type {} (graphs, sparse tensors and type protos are not supported)",
                  ctx.name, node, a.name(), static_cast<int>(a.type()));
  }
}

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& v, const Context& ctx) {
  ValueInfo info;
  info.name = v.name();
  if (!v.has_type() || !v.type().has_tensor_type())
    unsupported("{}: value '{}' is not a tensor (sequences and maps are not supported)", ctx.name, v.name());
  const auto& tt = v.type().tensor_type();
  info.type = data_type_from_onnx(tt.elem_type(), ctx, fmt::format("value '{}'", v.name()));
  if (tt.has_shape()) {
    if (tt.shape().dim_size() > kMaxRank) fail("{}: value '{}' has rank {}", ctx.name, v.name(), tt.shape().dim_size());
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value() && d.dim_value() < 0) fail("{}: value '{}' has a negative dimension", ctx.name, v.name());
      info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    }
  }
  return info;
}

// Kahn's algorithm over value producers: the order ONNX requires, and a cycle is found instead of looping.
void sort_topologically(Graph& g, const Context& ctx) {
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& out : g.nodes[i].outputs) {
      if (out.empty()) continue;
      if (g.initializers.count(out)) fail("{}: node '{}' writes '{}', which is an initializer", ctx.name, g.nodes[i].name, out);
      if (!producer.emplace(out, i).second) fail("{}: value '{}' is produced by two nodes", ctx.name, out);
    }
  std::set<std::string> graph_inputs;
  for (const auto& in : g.inputs) {
    graph_inputs.insert(in.name);
    if (producer.count(in.name)) fail("{}: graph input '{}' is also produced by node '{}'", ctx.name, in.name, g.nodes[producer[in.name]].name);
  }
  std::vector<std::vector<size_t>> consumers(g.nodes.size());
  std::vector<size_t> pending(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& in : g.nodes[i].inputs) {
      if (in.empty() || g.initializers.count(in) || graph_inputs.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        fail("{}: node '{}' ({}) reads '{}', which no node, input or initializer provides", ctx.name,
             g.nodes[i].name, g.nodes[i].op_type, in);
      consumers[it->second].push_back(i);
      ++pending[i];
    }
  }
  std::vector<size_t> ready, order;
  for (size_t i = g.nodes.size(); i-- > 0;)
    if (pending[i] == 0) ready.push_back(i);
  // Keep the file's order where it is already valid: pick the smallest ready index.
  std::make_heap(ready.begin(), ready.end(), std::greater<>());
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), std::greater<>());
    size_t i = ready.back();
    ready.pop_back();
    order.push_back(i);
    for (size_t c : consumers[i])
      if (--pending[c] == 0) {
        ready.push_back(c);
        std::push_heap(ready.begin(), ready.end(), std::greater<>());
      }
  }
  if (order.size() != g.nodes.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (pending[i] != 0) fail("{}: the graph has a cycle (through node '{}', {})", ctx.name, g.nodes[i].name, g.nodes[i].op_type);
  }
  std::vector<Node> sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(sorted);
  for (const auto& out : g.outputs)
    if (!producer.count(out.name) && !graph_inputs.count(out.name) && !g.initializers.count(out.name))
      fail("{}: graph output '{}' is not produced by any node", ctx.name, out.name);
}

// Takes the proto by reference to empty it as it goes: each initializer's bytes are freed once copied, so the
// import holds the weights about once, not twice.
Graph graph_from_model(onnx::ModelProto& model, const Context& ctx) {
  if (!model.has_graph()) fail("{}: not an ONNX model (no graph)", ctx.name);
  Graph g;
  g.source.format = "onnx";
  g.source.path = ctx.name;
  g.source.producer = model.producer_name() + (model.producer_version().empty() ? "" : " " + model.producer_version());
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") g.source.opset = op.version();
  if (g.source.opset == 0) g.source.opset = model.opset_import_size() == 0 ? 1 : 0;
  // opset 0: only other domains are imported; their nodes are reported as unsupported ops.
  for (const auto& p : model.metadata_props()) g.metadata[p.key()] = p.value();
  auto& graph = *model.mutable_graph();
  for (auto& init : *graph.mutable_initializer()) {
    if (init.name().empty()) fail("{}: an initializer has no name", ctx.name);
    g.initializers[init.name()] = tensor_from_proto(init, ctx);
    std::string().swap(*init.mutable_raw_data());
  }
  if (graph.sparse_initializer_size() > 0) unsupported("{}: sparse initializers are not supported", ctx.name);
  for (const auto& in : graph.input())
    if (!g.initializers.count(in.name())) g.inputs.push_back(value_info_from_proto(in, ctx));
  for (const auto& out : graph.output()) g.outputs.push_back(value_info_from_proto(out, ctx));
  std::set<std::string> names;
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto& n = graph.node(i);
    Node node;
    node.op_type = n.op_type();
    node.name = n.name().empty() ? fmt::format("{}_{}", n.op_type(), i) : n.name();
    while (!names.insert(node.name).second) node.name = fmt::format("{}_{}", node.name, i);
    if (!n.domain().empty() && n.domain() != "ai.onnx") node.op_type = n.domain() + "." + n.op_type();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    for (const auto& a : n.attribute()) {
      if (a.has_ref_attr_name()) unsupported("{}: node '{}': attribute references are not supported", ctx.name, node.name);
      node.attributes[a.name()] = attribute_from_proto(a, ctx, node.name);
    }
    g.nodes.push_back(std::move(node));
  }
  if (g.outputs.empty()) fail("{}: the graph has no outputs", ctx.name);
  sort_topologically(g, ctx);
  return g;
}

}  // namespace

namespace {
// protobuf parses at most 2 GB (an int's worth of bytes); larger ONNX models keep their weights as external data.
void check_protobuf_size(uintmax_t size, const std::string& name) {
  if (size > static_cast<uintmax_t>(std::numeric_limits<int>::max()))
    fail("{}: {} bytes is more than protobuf can parse (2 GB); use external data", name, size);
}

[[noreturn]] void not_onnx(const std::string& name) {
  fail("{}: not an ONNX model: the protobuf does not parse (truncated or corrupt file)", name);
}

void parse_model(onnx::ModelProto& model, const void* data, size_t size, const std::string& name) {
  check_protobuf_size(size, name);
  if (!model.ParseFromArray(data, static_cast<int>(size))) not_onnx(name);
}

// Parsed straight from the file, a block at a time: a buffer of the whole file beside the parsed proto held the
// weights twice while parsing (VGG11's 531 MB file: 1.06 GB).
void parse_model_file(onnx::ModelProto& model, const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) fail("{}: cannot open", path.string());
  check_protobuf_size(size, path.string());
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open", path.string());
  google::protobuf::io::FileInputStream stream(fd);
  stream.SetCloseOnDelete(true);
  if (!model.ParseFromZeroCopyStream(&stream)) {
    if (stream.GetErrno() != 0) fail("{}: cannot read", path.string());
    not_onnx(path.string());
  }
}
}  // namespace

Graph import_onnx_bytes(const void* data, size_t size, const std::string& name, const fs::path& base_dir) {
  onnx::ModelProto model;
  parse_model(model, data, size, name);
  return graph_from_model(model, Context{name, base_dir});
}

Graph import_onnx(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail("{}: no such model file", path.string());
  onnx::ModelProto model;
  parse_model_file(model, path);
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  return graph_from_model(model, Context{path.string(), dir});
}

Tensor read_onnx_tensor_file(const fs::path& path, std::string* name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) fail("{}: not a TensorProto", path.string());
  if (name) *name = proto.name();
  fs::path dir = path.parent_path();
  return tensor_from_proto(proto, Context{path.string(), dir.empty() ? fs::path(".") : dir});
}

}  // namespace xfer::nn
