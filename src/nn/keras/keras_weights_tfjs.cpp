// TF.js layers weights: the weights manifest of model.json and its binary shards.
#include <Eigen/Core>
#include <cmath>
#include <cstring>
#include <fstream>

#include "nn/keras/keras_weights.h"
#include "util/error.h"

namespace xfer::nn::keras {

std::string short_weight_name(const std::string& full_name) {
  std::string s = full_name;
  auto slash = s.rfind('/');
  if (slash != std::string::npos) s = s.substr(slash + 1);
  auto colon = s.rfind(':');
  if (colon != std::string::npos) s = s.substr(0, colon);
  return s;
}

void check_finite(const Tensor& t, const std::string& what, const std::string& origin) {
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.element_count(); ++i) {
    if (!std::isfinite(p[i])) fail("{}: weight {} holds a non-finite value ({}) at element {}", origin, what, p[i], i);
  }
}

namespace {

size_t stored_size(const std::string& dtype) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "float16" || dtype == "uint16") return 2;
  if (dtype == "uint8") return 1;
  return 0;
}

std::vector<unsigned char> read_file(const std::filesystem::path& path, const std::string& model_path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open weights shard {}", model_path, path.string());
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

// A shard path must stay inside the model's folder: no absolute paths, no "..", no symlinks out.
std::filesystem::path shard_path(const std::filesystem::path& dir, const std::string& rel,
                                 const std::string& model_path) {
  std::filesystem::path p(rel);
  if (rel.empty() || p.is_absolute() || p.has_root_name()) fail("{}: weights shard path '{}' is not relative", model_path, rel);
  for (const auto& part : p) {
    if (part == "..") fail("{}: weights shard path '{}' leaves the model's folder", model_path, rel);
  }
  auto full = dir / p;
  std::error_code ec;
  auto canon_dir = std::filesystem::weakly_canonical(dir, ec);
  auto canon = std::filesystem::weakly_canonical(full, ec);
  auto d = canon_dir.native(), f = canon.native();
  if (ec || f.compare(0, d.size(), d) != 0 || (f.size() > d.size() && f[d.size()] != '/')) {
    fail("{}: weights shard path '{}' leaves the model's folder", model_path, rel);
  }
  return full;
}

}  // namespace

KerasWeights read_tfjs_weights(const nlohmann::json& model_json, const std::filesystem::path& dir,
                               const std::string& model_path) {
  KerasWeights out;
  out.origin = model_path;
  if (!model_json.contains("weightsManifest") || !model_json["weightsManifest"].is_array()) {
    fail("{}: no weightsManifest (not a TF.js layers model.json?)", model_path);
  }
  for (const auto& group : model_json["weightsManifest"]) {
    if (!group.contains("paths") || !group.contains("weights")) fail("{}: a weights group lacks paths or weights", model_path);
    std::vector<unsigned char> buffer;
    for (const auto& rel : group["paths"]) {
      if (!rel.is_string()) fail("{}: a weights shard path is not a string", model_path);
      auto bytes = read_file(shard_path(dir, rel.get<std::string>(), model_path), model_path);
      buffer.insert(buffer.end(), bytes.begin(), bytes.end());
    }
    size_t offset = 0;
    for (const auto& w : group["weights"]) {
      const std::string name = w.at("name").get<std::string>();
      const std::string dtype = w.at("dtype").get<std::string>();
      std::vector<int64_t> shape = w.at("shape").get<std::vector<int64_t>>();
      int64_t count = 1;
      for (auto d : shape) {
        // Checked before multiplying: a hostile manifest's product of dimensions can overflow.
        if (d < 0 || (d > 0 && count > (int64_t{1} << 31) / d)) fail("{}: weight {} has a bad shape", model_path, name);
        count *= d;
      }
      if (dtype != "float32") fail("{}: weight {} has dtype {} (only float32 weights are supported)", model_path, name, dtype);
      std::string stored = dtype;
      double scale = 1.0, min = 0.0;
      const bool quantized = w.contains("quantization");
      if (quantized) {
        const auto& q = w["quantization"];
        stored = q.at("dtype").get<std::string>();
        if (stored == "uint8" || stored == "uint16") {
          scale = q.at("scale").get<double>();
          min = q.at("min").get<double>();
        } else if (stored != "float16") {
          fail("{}: weight {} is quantised to {} (uint8, uint16 and float16 are supported)", model_path, name, stored);
        }
      }
      const size_t size = stored_size(stored) * static_cast<size_t>(count);
      if (offset + size > buffer.size()) {
        fail("{}: weights shards hold {} bytes but the manifest needs more (weight {} ends at byte {})", model_path,
             buffer.size(), name, offset + size);
      }
      Tensor t = Tensor::zeros(DataType::float32, shape);
      float* dst = t.mutable_data<float>();
      const unsigned char* src = buffer.data() + offset;
      if (stored == "float32") {
        std::memcpy(dst, src, size);
      } else if (stored == "float16") {
        for (int64_t i = 0; i < count; ++i) {
          uint16_t bits;
          std::memcpy(&bits, src + 2 * i, 2);
          dst[i] = static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(bits));
        }
      } else if (stored == "uint8") {
        // TF.js computes q * scale + min in double and stores float32; so do we.
        for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(src[i] * scale + min);
      } else {  // uint16
        for (int64_t i = 0; i < count; ++i) {
          uint16_t q;
          std::memcpy(&q, src + 2 * i, 2);
          dst[i] = static_cast<float>(q * scale + min);
        }
      }
      offset += size;
      check_finite(t, name, model_path);
      auto slash = name.find('/');
      if (slash == std::string::npos) fail("{}: weight name '{}' does not name its layer (layer/weight)", model_path, name);
      auto& layer = out.layers[name.substr(0, slash)];
      if (!layer.emplace(short_weight_name(name), std::move(t)).second) {
        fail("{}: weight {} appears twice in the manifest", model_path, name);
      }
    }
    if (offset != buffer.size()) {
      fail("{}: weights shards hold {} bytes but the manifest describes {}", model_path, buffer.size(), offset);
    }
  }
  return out;
}

}  // namespace xfer::nn::keras
