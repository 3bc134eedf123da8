// Calibration for int8: value ranges from an fp32 run over the user's images, thresholds from histograms.
#include "nn/calibration.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "nn/errors.h"
#include "nn/model.h"
#include "util/sha256.h"

namespace xfer::nn {

CalibrationMethod calibration_method_from_string(const std::string& s) {
  if (s == "minmax") return CalibrationMethod::minmax;
  if (s == "percentile") return CalibrationMethod::percentile;
  if (s == "entropy") return CalibrationMethod::entropy;
  usage_fail("calibration method must be minmax, percentile or entropy, not '{}'", s);
}

const char* to_string(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::minmax: return "minmax";
    case CalibrationMethod::percentile: return "percentile";
    default: return "entropy";
  }
}

float ValueRange::scale() const { return threshold / (is_unsigned ? 255.0f : 127.0f); }

const ValueRange* Calibration::find(const std::string& value) const {
  auto it = values.find(value);
  return it == values.end() ? nullptr : &it->second;
}

nlohmann::json Calibration::to_json() const {
  nlohmann::json ranges = nlohmann::json::object();
  for (const auto& [name, r] : values) ranges[name] = {{"threshold", r.threshold}, {"unsigned", r.is_unsigned}};
  return {{"method", method}, {"images", images}, {"values", ranges}};
}

Calibration Calibration::from_json(const nlohmann::json& j) {
  Calibration c;
  try {
    c.method = j.at("method").get<std::string>();
    c.images = j.value("images", int64_t{0});
    for (const auto& [name, r] : j.at("values").items()) {
      ValueRange v{r.at("threshold").get<float>(), r.at("unsigned").get<bool>()};
      if (!(v.threshold > 0) || !std::isfinite(v.threshold)) fail("value '{}' has threshold {}", name, v.threshold);
      c.values[name] = v;
    }
  } catch (const nlohmann::json::exception& e) {
    fail("malformed int8 calibration record: {}", e.what());
  }
  return c;
}

std::string Calibration::digest() const { return sha256_hex(to_json().dump()); }

namespace {

constexpr int kBins = 2048;

// TensorRT's entropy calibration on the histogram of |x|: for each candidate threshold (a bin edge), the
// distribution clipped there (outliers folded into the last bin) against the same merged into `levels` int8 steps
// and expanded back; the threshold with the least KL divergence wins.
int entropy_bins(const std::vector<double>& hist, int levels) {
  const int n = static_cast<int>(hist.size());
  if (n <= levels) return n;
  double best = std::numeric_limits<double>::infinity();
  int best_i = n;
  std::vector<double> p, q;
  for (int i = levels; i <= n; ++i) {
    p.assign(hist.begin(), hist.begin() + i);
    double outliers = 0;
    for (int k = i; k < n; ++k) outliers += hist[k];
    p[i - 1] += outliers;
    q.assign(i, 0.0);
    const double width = static_cast<double>(i) / levels;
    for (int j = 0; j < levels; ++j) {
      const int start = static_cast<int>(std::floor(j * width));
      const int stop = j == levels - 1 ? i : static_cast<int>(std::floor((j + 1) * width));
      double sum = 0;
      int nonzero = 0;
      for (int k = start; k < stop; ++k) {
        sum += hist[k];
        nonzero += hist[k] != 0;
      }
      if (nonzero == 0) continue;
      for (int k = start; k < stop; ++k) if (hist[k] != 0) q[k] = sum / nonzero;
    }
    double p_sum = 0, q_sum = 0;
    for (int k = 0; k < i; ++k) { p_sum += p[k]; q_sum += q[k]; }
    if (p_sum <= 0 || q_sum <= 0) continue;
    double kl = 0;
    for (int k = 0; k < i; ++k) {
      if (p[k] <= 0) continue;
      const double pk = p[k] / p_sum;
      const double qk = q[k] > 0 ? q[k] / q_sum : 1e-12;  // p has mass where q has none: heavily penalised
      kl += pk * std::log(pk / qk);
    }
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  return best_i;
}

struct Stats {
  float min = std::numeric_limits<float>::infinity();
  float max_abs = 0;
  std::vector<double> histogram;
};

void observe_range(Stats& s, const Tensor& t) {
  const float* x = t.data<float>();
  for (int64_t i = 0, n = t.element_count(); i < n; ++i) {
    s.min = std::min(s.min, x[i]);
    s.max_abs = std::max(s.max_abs, std::fabs(x[i]));
  }
}

void observe_histogram(Stats& s, const Tensor& t) {
  if (s.histogram.empty()) s.histogram.assign(kBins, 0.0);
  if (s.max_abs <= 0) return;
  const float* x = t.data<float>();
  const float per_bin = kBins / s.max_abs;
  for (int64_t i = 0, n = t.element_count(); i < n; ++i) {
    int b = static_cast<int>(std::fabs(x[i]) * per_bin);
    s.histogram[std::min(b, kBins - 1)] += 1;
  }
}

}  // namespace

float choose_threshold(const std::vector<double>& histogram, float max_abs, bool is_unsigned, CalibrationMethod method) {
  if (!(max_abs > 0)) return 1.0f;  // an all-zero value: any scale represents it
  const float bin = max_abs / static_cast<float>(histogram.size());
  switch (method) {
    case CalibrationMethod::minmax: return max_abs;
    case CalibrationMethod::percentile: {
      double total = 0;
      for (double h : histogram) total += h;
      double seen = 0;
      for (size_t b = 0; b < histogram.size(); ++b) {
        seen += histogram[b];
        if (seen >= 0.9999 * total) return bin * static_cast<float>(b + 1);
      }
      return max_abs;
    }
    default: {
      // The exact zeros a Relu writes (often half the values) sit in the first bin; left in, they outweigh the
      // whole tail and the divergence favours clipping almost everything. Zero is exact at any scale: drop them.
      std::vector<double> nonzero = histogram;
      nonzero[0] = 0;
      return bin * static_cast<float>(entropy_bins(nonzero, is_unsigned ? 256 : 128));
    }
  }
}

Calibration calibrate(const Graph& graph, const std::vector<std::string>& outputs, const std::vector<Tensor>& batches,
                      CalibrationMethod method) {
  if (graph.inputs.size() != 1) fail("{}: int8 calibration needs a model with one input, this one has {}", graph.source.path, graph.inputs.size());
  if (batches.empty()) fail("{}: int8 calibration needs at least one image", graph.source.path);
  CompileOptions fused_options;
  fused_options.outputs = outputs;
  Graph g = Model::compile(graph, fused_options)->graph();  // cut and fused exactly as the int8 model will be

  // The values int8 kernels read or write, and which of them must share one range.
  std::vector<std::string> recorded;
  std::set<std::string> seen;
  std::map<std::string, std::string> parent;  // union-find over shared ranges
  std::function<std::string(const std::string&)> root = [&](const std::string& v) -> std::string {
    auto it = parent.find(v);
    if (it == parent.end() || it->second == v) return v;
    return it->second = root(it->second);
  };
  auto join = [&](const std::string& a, const std::string& b) { parent[root(a)] = root(b); };
  auto record = [&](const std::string& v) {
    if (!v.empty() && !g.initializers.count(v) && seen.insert(v).second) recorded.push_back(v);
  };
  for (const auto& n : g.nodes) {
    const std::string& op = n.op_type;
    if (op == "Conv") {
      record(n.inputs[0]);
      if (n.attr_int("_residual", 0) && n.inputs.size() > 3) record(n.inputs[3]);
      record(n.outputs[0]);
    } else if (op == "MaxPool" || op == "AveragePool") {
      record(n.inputs[0]);
      record(n.outputs[0]);
      if (!n.attr_int("_bias", 0) && !n.has_attr("_activation")) join(n.inputs[0], n.outputs[0]);
    } else if (op == "Concat") {
      for (const auto& in : n.inputs) if (!in.empty()) { record(in); join(in, n.outputs[0]); }
      record(n.outputs[0]);
    }
  }
  const std::string input = g.inputs[0].name;
  Graph probe_graph = g;
  probe_graph.outputs.clear();
  std::vector<std::string> probed;
  for (const auto& v : recorded)
    if (v != input) {
      probe_graph.outputs.push_back(ValueInfo{v, DataType::float32, {}});
      probed.push_back(v);
    }
  CompileOptions probe_options;
  probe_options.optimize = false;  // already fused
  auto probe = Model::compile(std::move(probe_graph), probe_options);
  Run run(probe);

  // Every recorded value of a batch is held at once: at most 4 images per forward.
  std::vector<Tensor> chunks;
  for (const auto& batch : batches) {
    const int64_t n = batch.shape.empty() ? 1 : batch.shape[0];
    if (n <= 4) {
      chunks.push_back(batch);
      continue;
    }
    const size_t per_image = batch.bytes->size() / static_cast<size_t>(n);
    for (int64_t i = 0; i < n; i += 4) {
      std::vector<int64_t> shape = batch.shape;
      shape[0] = std::min<int64_t>(4, n - i);
      Tensor chunk = Tensor::zeros(batch.type, shape);
      std::copy_n(batch.bytes->data() + i * per_image, chunk.bytes->size(), chunk.bytes->data());
      chunks.push_back(std::move(chunk));
    }
  }
  std::map<std::string, Stats> stats;
  int64_t images = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& batch : chunks) {
      if (pass == 0) images += batch.shape.empty() ? 1 : batch.shape[0];
      std::vector<Tensor> values = run.forward({{input, batch}});
      auto observe = [&](const std::string& name, const Tensor& t) {
        if (t.type != DataType::float32) return;
        if (pass == 0) observe_range(stats[name], t);
        else observe_histogram(stats[name], t);
      };
      if (seen.count(input)) observe(input, batch);
      for (size_t i = 0; i < probed.size(); ++i) observe(probed[i], values[i]);
    }
  }

  Calibration c;
  c.method = to_string(method);
  c.images = images;
  for (auto& [name, s] : stats) {
    const bool is_unsigned = s.min >= 0;
    c.values[name] = ValueRange{choose_threshold(s.histogram, s.max_abs, is_unsigned, method), is_unsigned};
  }
  // One range per group: the widest threshold, unsigned only when every member is.
  std::map<std::string, ValueRange> groups;
  for (const auto& [name, r] : c.values) {
    auto [it, fresh] = groups.emplace(root(name), r);
    if (!fresh) {
      it->second.threshold = std::max(it->second.threshold, r.threshold);
      it->second.is_unsigned = it->second.is_unsigned && r.is_unsigned;
    }
  }
  for (auto& [name, r] : c.values) r = groups.at(root(name));
  return c;
}

}  // namespace xfer::nn
