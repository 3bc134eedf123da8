// Keras 2 HDF5 files, read with the HDF5 C API: the model_config attribute, and the weights under
// model_weights/<layer>/ (full models) or at the root (weights-only files), listed by the layer_names and
// weight_names attributes Keras writes (split into layer_names0, layer_names1, ... when they exceed 64 KiB).
#include <hdf5.h>

#include <functional>

#include "nn/keras/keras_weights.h"
#include "util/error.h"

namespace xfer::nn::keras {

namespace {

// One HDF5 identifier, closed by its own close function when it goes out of scope.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Reads a string attribute (scalar or 1-d array; fixed-length or variable-length strings) as a list of strings.
std::vector<std::string> read_string_attr(hid_t obj, const std::string& name, const std::string& where) {
  H5Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) fail("{}: cannot open attribute {}", where, name);
  H5Handle type(H5Aget_type(attr.get()), H5Tclose);
  H5Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.ok() || !space.ok()) fail("{}: cannot read attribute {}", where, name);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || n > (1 << 24)) fail("{}: attribute {} has a bad size", where, name);
  std::vector<std::string> out;
  if (n == 0) return out;  // Keras writes an empty list as an empty float64 array
  if (H5Tget_class(type.get()) != H5T_STRING) fail("{}: attribute {} is not a string attribute", where, name);
  if (H5Tis_variable_str(type.get()) > 0) {
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    if (H5Aread(attr.get(), mem.get(), ptrs.data()) < 0) fail("{}: cannot read attribute {}", where, name);
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    size_t size = H5Tget_size(type.get());
    if (size == 0 || size > (size_t{1} << 30)) fail("{}: attribute {} has a bad string size", where, name);
    std::vector<char> buf(size * static_cast<size_t>(n) + 1, 0);
    if (H5Aread(attr.get(), type.get(), buf.data()) < 0) fail("{}: cannot read attribute {}", where, name);
    for (hssize_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * size;
      size_t len = 0;
      while (len < size && p[len] != '\0') ++len;
      out.emplace_back(p, len);
    }
  }
  return out;
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

// layer_names / weight_names, possibly chunked by Keras into name0, name1, ...
std::vector<std::string> read_name_list(hid_t obj, const std::string& name, const std::string& where) {
  if (has_attr(obj, name)) return read_string_attr(obj, name, where);
  std::vector<std::string> out;
  for (int chunk = 0; has_attr(obj, name + std::to_string(chunk)); ++chunk) {
    auto part = read_string_attr(obj, name + std::to_string(chunk), where);
    out.insert(out.end(), part.begin(), part.end());
  }
  if (out.empty() && !has_attr(obj, name + "0")) fail("{}: no attribute {} (not a Keras HDF5 file?)", where, name);
  return out;
}

Tensor read_dataset(hid_t group, const std::string& path, const std::string& where) {
  H5Handle ds(H5Dopen2(group, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) fail("{}: weight dataset {} is missing", where, path);
  H5Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (!type.ok() || H5Tget_class(type.get()) != H5T_FLOAT) fail("{}: weight dataset {} is not floating point", where, path);
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) fail("{}: weight dataset {} has a bad rank", where, path);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  std::vector<int64_t> shape;
  int64_t count = 1;
  for (auto d : dims) {
    // Checked before multiplying: the product of a hostile file's dimensions can overflow.
    if (d > 0 && static_cast<hsize_t>(count) > (hsize_t{1} << 31) / d) fail("{}: weight dataset {} is too large", where, path);
    shape.push_back(static_cast<int64_t>(d));
    count *= static_cast<int64_t>(d);
  }
  Tensor t = Tensor::zeros(DataType::float32, shape);
  if (count > 0 && H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.mutable_data<float>()) < 0) {
    fail("{}: cannot read weight dataset {}", where, path);
  }
  return t;
}

}  // namespace

KerasH5 read_keras_h5(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become our messages, not HDF5's stack dumps
  if (H5Fis_hdf5(path.c_str()) <= 0) fail("{}: not an HDF5 file", path);
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) fail("{}: cannot open the HDF5 file", path);
  KerasH5 out;
  out.weights.origin = path;
  if (has_attr(file.get(), "keras_version")) {
    auto v = read_string_attr(file.get(), "keras_version", path);
    if (!v.empty()) out.keras_version = v[0];
  }
  if (has_attr(file.get(), "backend")) {
    auto v = read_string_attr(file.get(), "backend", path);
    if (!v.empty()) out.backend = v[0];
  }
  if (has_attr(file.get(), "model_config")) {
    auto v = read_string_attr(file.get(), "model_config", path);
    if (v.size() != 1) fail("{}: attribute model_config is not one string", path);
    try {
      out.model_config = nlohmann::json::parse(v[0]);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: attribute model_config is not JSON: {}", path, e.what());
    }
  }
  // Full models keep their weights in model_weights/; weights-only files at the root.
  std::optional<H5Handle> weights_group;
  hid_t root = file.get();
  if (H5Lexists(file.get(), "model_weights", H5P_DEFAULT) > 0) {
    weights_group.emplace(H5Gopen2(file.get(), "model_weights", H5P_DEFAULT), H5Gclose);
    if (!weights_group->ok()) fail("{}: cannot open group model_weights", path);
    root = weights_group->get();
  } else if (out.model_config) {
    fail("{}: a model_config but no model_weights group (a model saved without weights?)", path);
  }
  out.layer_names = read_name_list(root, "layer_names", path);
  for (const auto& layer : out.layer_names) {
    if (layer.empty() || layer.find('/') != std::string::npos) fail("{}: bad layer name '{}' in layer_names", path, layer);
    const std::string where = fmt::format("{} (layer {})", path, layer);
    if (H5Lexists(root, layer.c_str(), H5P_DEFAULT) <= 0) fail("{}: layer_names lists {} but there is no such group", path, layer);
    H5Handle group(H5Gopen2(root, layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) fail("{}: cannot open the group", where);
    auto weight_names = read_name_list(group.get(), "weight_names", where);
    auto& slot = out.weights.layers[layer];
    for (const auto& wname : weight_names) {
      Tensor t = read_dataset(group.get(), wname, where);
      check_finite(t, layer + "/" + wname, path);
      if (!slot.emplace(short_weight_name(wname), std::move(t)).second) fail("{}: weight {} appears twice", where, wname);
    }
  }
  return out;
}

}  // namespace xfer::nn::keras
