// Translation of Keras layers into ONNX-semantics nodes. Inside the graph every 4-D value is NCHW (so Conv,
// pooling and BatchNormalization are plain ONNX ops); the NHWC input is transposed once at the start, and a
// Keras layer whose meaning depends on the NHWC element order (Flatten, Reshape) transposes back first.
// Each layer's final node carries the layer's name; its value is "<layer>" (2-D) or, for 4-D, "<layer>/nchw"
// with "<layer>" an NHWC Transpose view (see finish()), so `--layer NAME` reads the layer as Keras has it.
#include "nn/keras/keras_graph.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <set>

#include "util/error.h"

namespace xfer::nn::keras {

namespace {

using nlohmann::json;
using Shape = std::vector<int64_t>;  // graph layout (NCHW for rank 4); -1 unknown

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + (s[i] < 0 ? std::string("?") : std::to_string(s[i]));
  return out + "]";
}

Tensor float_tensor(Shape shape, const std::vector<float>& values) {
  Tensor t = Tensor::zeros(DataType::float32, std::move(shape));
  std::memcpy(t.mutable_data<float>(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor int64_tensor(const std::vector<int64_t>& values) {
  Tensor t = Tensor::zeros(DataType::int64, {static_cast<int64_t>(values.size())});
  std::memcpy(t.mutable_data<int64_t>(), values.data(), values.size() * sizeof(int64_t));
  return t;
}

struct Value {
  std::string name;
  Shape shape;
};

// One Keras layer being translated: its name and class for messages, its config.
struct Layer {
  std::string name;
  std::string class_name;
  json config;
  std::vector<Value> inputs;
};

class Builder {
 public:
  Builder(const KerasWeights& weights, std::string origin) : weights_(weights), origin_(std::move(origin)) {}

  Graph build(const json& model_config);

 private:
  [[noreturn]] void layer_fail(const Layer& l, const std::string& why) const {
    fail("{}: layer '{}' ({}): {}", origin_, l.name, l.class_name, why);
  }

  // Graph building helpers.
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_names_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_names_.insert(name);
    return name;
  }
  std::string node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                   std::map<std::string, Attribute> attrs = {}, const std::string& output = "") {
    Node n;
    n.name = fresh(name);
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {output.empty() ? n.name : output};
    if (!output.empty() && output != n.name) used_names_.insert(output);
    n.attributes = std::move(attrs);
    graph_.nodes.push_back(std::move(n));
    return graph_.nodes.back().outputs[0];
  }
  std::string init(const std::string& name, Tensor t) {
    std::string n = fresh(name);
    graph_.initializers[n] = std::move(t);
    return n;
  }

  // Weights: shape-checked and marked as used.
  const Tensor& weight(const Layer& l, const std::string& short_name, const Shape& expected) {
    auto layer_it = weights_.layers.find(l.name);
    if (weights_.zeros_for_missing &&
        (layer_it == weights_.layers.end() || !layer_it->second.count(short_name))) {
      zeros_.push_back(Tensor::zeros(DataType::float32, expected));
      keras_parameters_ += zeros_.back().element_count();
      return zeros_.back();
    }
    if (layer_it == weights_.layers.end()) layer_fail(l, fmt::format("no weights for this layer in {}", weights_.origin));
    auto it = layer_it->second.find(short_name);
    if (it == layer_it->second.end()) {
      layer_fail(l, fmt::format("weight '{}' is missing in {}", short_name, weights_.origin));
    }
    if (it->second.shape != expected) {
      layer_fail(l, fmt::format("weight '{}' in {} has shape {} but the layer needs {}", short_name,
                                weights_.origin, shape_str(it->second.shape), shape_str(expected)));
    }
    used_weights_.insert(l.name + "/" + short_name);
    keras_parameters_ += it->second.element_count();
    return it->second;
  }

  // Layout helpers. Keras axis (NHWC order, may be negative) -> graph axis.
  int64_t graph_axis(const Layer& l, int64_t keras_axis, size_t rank) const {
    int64_t r = static_cast<int64_t>(rank);
    if (keras_axis < 0) keras_axis += r;
    if (keras_axis < 0 || keras_axis >= r) layer_fail(l, fmt::format("axis {} is out of range for rank {}", keras_axis, r));
    if (rank != 4) return keras_axis;
    static const int64_t map[4] = {0, 2, 3, 1};
    return map[keras_axis];
  }
  Value to_nhwc(const Layer& l, const Value& v) {
    if (v.shape.size() != 4) return v;
    Value out{node("Transpose", l.name + "/to_nhwc", {v.name}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}}),
              {v.shape[0], v.shape[2], v.shape[3], v.shape[1]}};
    return out;
  }

  std::string keras_str(const Layer& l, const char* key, const std::string& fallback) const {
    if (!l.config.contains(key) || l.config[key].is_null()) return fallback;
    if (!l.config[key].is_string()) layer_fail(l, fmt::format("'{}' is not a string", key));
    return l.config[key].get<std::string>();
  }
  std::vector<int64_t> pair(const Layer& l, const char* key, std::vector<int64_t> fallback) const {
    if (!l.config.contains(key) || l.config[key].is_null()) return fallback;
    const auto& v = l.config[key];
    if (v.is_number_integer()) return {v.get<int64_t>(), v.get<int64_t>()};
    if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
      return {v[0].get<int64_t>(), v[1].get<int64_t>()};
    }
    layer_fail(l, fmt::format("'{}' is not an int or a pair of ints", key));
  }
  void check_channels_last(const Layer& l) const {
    std::string fmt_ = keras_str(l, "data_format", "channels_last");
    if (fmt_ != "channels_last") layer_fail(l, "data_format " + fmt_ + " is not supported (channels_last only)");
  }
  const Value& single_input(const Layer& l) const {
    if (l.inputs.size() != 1) layer_fail(l, fmt::format("expects one input, has {}", l.inputs.size()));
    return l.inputs[0];
  }
  const Value& spatial_input(const Layer& l) const {
    const Value& in = single_input(l);
    if (in.shape.size() != 4) layer_fail(l, fmt::format("expects a 4-D input, got {}", shape_str(in.shape)));
    check_channels_last(l);
    return in;
  }

  // TF padding: 'valid' none; 'same' total = max((ceil(in/s)-1)*s + eff_k - in, 0), extra pixel at the end.
  // Returns ONNX pads [top, left, bottom, right] and the output spatial size.
  std::pair<std::vector<int64_t>, Shape> window(const Layer& l, const Shape& in, const std::vector<int64_t>& k,
                                                const std::vector<int64_t>& s, const std::vector<int64_t>& d) {
    std::string padding = keras_str(l, "padding", "valid");
    std::vector<int64_t> begin(2, 0), end(2, 0);
    Shape out(2, -1);
    for (int i = 0; i < 2; ++i) {
      int64_t size = in[2 + i];
      int64_t eff = (k[i] - 1) * d[i] + 1;
      if (k[i] <= 0 || s[i] <= 0 || d[i] <= 0) layer_fail(l, "kernel, strides and dilation must be positive");
      if (padding == "valid") {
        if (size >= 0) {
          if (size < eff) layer_fail(l, fmt::format("window {} is larger than the input ({})", eff, size));
          out[i] = (size - eff) / s[i] + 1;
        }
      } else if (padding == "same") {
        if (size < 0) {
          if (s[i] != 1) layer_fail(l, "'same' padding with strides needs a known input size");
          int64_t total = eff - 1;
          begin[i] = total / 2;
          end[i] = total - begin[i];
        } else {
          int64_t o = (size + s[i] - 1) / s[i];
          int64_t total = std::max<int64_t>((o - 1) * s[i] + eff - size, 0);
          begin[i] = total / 2;
          end[i] = total - begin[i];
          out[i] = o;
        }
      } else {
        layer_fail(l, "padding '" + padding + "' is not supported");
      }
    }
    return {{begin[0], begin[1], end[0], end[1]}, out};
  }

  // Activations by Keras name, applied to `v`; the last node gets `final_name` (the layer's name).
  Value activation(const Layer& l, const std::string& act, const Value& v, const std::string& final_name);

  Value conv(const Layer& l);
  Value depthwise(const Layer& l);
  Value separable(const Layer& l);
  Value batchnorm(const Layer& l);
  Value relu_layer(const Layer& l);
  Value pooling(const Layer& l, bool max);
  Value global_pooling(const Layer& l, bool max);
  Value zero_padding(const Layer& l);
  Value cropping(const Layer& l);
  Value concatenate(const Layer& l);
  Value elementwise(const Layer& l, const std::string& op);
  Value dense(const Layer& l);
  Value flatten(const Layer& l);
  Value reshape(const Layer& l);
  Value translate(const Layer& l);

  Value input_layer(const json& layer_json, const std::string& name);
  void finish(const std::vector<std::string>& outputs);

  const KerasWeights& weights_;
  std::string origin_;
  Graph graph_;
  std::set<std::string> used_names_;
  std::set<std::string> used_weights_;
  std::map<std::string, Value> values_;  // Keras layer name -> its output value
  std::deque<Tensor> zeros_;             // architecture-only weights (stable addresses)
  int64_t keras_parameters_ = 0;         // Keras' own count: the weights the layers hold
};

Value Builder::activation(const Layer& l, const std::string& act, const Value& v, const std::string& final_name) {
  auto one = [&](const std::string& op, std::map<std::string, Attribute> attrs = {}) {
    return Value{node(op, final_name, {v.name}, std::move(attrs), final_name), v.shape};
  };
  const int64_t channel_axis = 1;  // channels are axis 1 in the graph for rank 2 and rank 4 alike
  if (act == "linear") return final_name == v.name ? v : one("Identity");
  if (act == "relu") return one("Relu");
  if (act == "sigmoid") return one("Sigmoid");
  if (act == "tanh") return one("Tanh");
  if (act == "elu") {
    // elu(x) = relu(x) + exp(min(x, 0)) - 1, written with the engine's ops (it has no Exp/Elu): for m <= 0,
    // exp(m) = s / (1 - s) with s = sigmoid(m) in (0, 0.5], so no cancellation; min(x, 0) = x - relu(x).
    std::string one_c = init(final_name + "/one", float_tensor({}, {1.0f}));
    std::string r = node("Relu", final_name + "/relu", {v.name});
    std::string m = node("Sub", final_name + "/min0", {v.name, r});
    std::string s = node("Sigmoid", final_name + "/sigmoid", {m});
    std::string d = node("Sub", final_name + "/one_minus", {one_c, s});
    std::string e = node("Div", final_name + "/exp", {s, d});
    std::string em1 = node("Sub", final_name + "/expm1", {e, one_c});
    return Value{node("Add", final_name, {r, em1}, {}, final_name), v.shape};
  }
  if (act == "softmax") {
    if (v.shape.size() != 2 && v.shape.size() != 4) layer_fail(l, "softmax needs a 2-D or 4-D input");
    return one("Softmax", {{"axis", channel_axis}});
  }
  if (act == "relu6") {
    std::string lo = init(final_name + "/min", float_tensor({}, {0.0f}));
    std::string hi = init(final_name + "/max", float_tensor({}, {6.0f}));
    return Value{node("Clip", final_name, {v.name, lo, hi}, {}, final_name), v.shape};
  }
  if (act == "swish" || act == "silu") {  // x * sigmoid(x)
    std::string sig = node("Sigmoid", final_name + "/sigmoid", {v.name});
    return Value{node("Mul", final_name, {v.name, sig}, {}, final_name), v.shape};
  }
  layer_fail(l, "activation '" + act + "' is not supported");
}

Value Builder::conv(const Layer& l) {
  const Value& in = spatial_input(l);
  auto k = pair(l, "kernel_size", {});
  auto s = pair(l, "strides", {1, 1});
  auto d = pair(l, "dilation_rate", {1, 1});
  if (k.size() != 2) layer_fail(l, "kernel_size is missing");
  if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1)) layer_fail(l, "strides and dilation together");
  if (l.config.value("groups", 1) != 1) layer_fail(l, "grouped convolution is not supported");
  int64_t filters = l.config.at("filters").get<int64_t>();
  int64_t cin = in.shape[1];
  const Tensor& kernel = weight(l, "kernel", {k[0], k[1], cin, filters});
  // HWIO -> OIHW
  Tensor w = Tensor::zeros(DataType::float32, {filters, cin, k[0], k[1]});
  const float* src = kernel.data<float>();
  float* dst = w.mutable_data<float>();
  for (int64_t y = 0; y < k[0]; ++y)
    for (int64_t x = 0; x < k[1]; ++x)
      for (int64_t i = 0; i < cin; ++i)
        for (int64_t o = 0; o < filters; ++o) dst[((o * cin + i) * k[0] + y) * k[1] + x] = src[((y * k[1] + x) * cin + i) * filters + o];
  std::vector<std::string> inputs = {in.name, init(l.name + "/kernel", std::move(w))};
  if (l.config.value("use_bias", true)) inputs.push_back(init(l.name + "/bias", weight(l, "bias", {filters})));
  auto [pads, out_hw] = window(l, in.shape, k, s, d);
  std::string act = keras_str(l, "activation", "linear");
  std::string conv_name = act == "linear" ? l.name : l.name + "/conv";
  Value out{node("Conv", conv_name, inputs,
                 {{"kernel_shape", k}, {"strides", s}, {"dilations", d}, {"pads", pads}, {"group", int64_t{1}}},
                 conv_name),
            {in.shape[0], filters, out_hw[0], out_hw[1]}};
  return activation(l, act, out, l.name);
}

Value Builder::depthwise(const Layer& l) {
  const Value& in = spatial_input(l);
  auto k = pair(l, "kernel_size", {});
  auto s = pair(l, "strides", {1, 1});
  auto d = pair(l, "dilation_rate", {1, 1});
  if (k.size() != 2) layer_fail(l, "kernel_size is missing");
  int64_t mult = l.config.value("depth_multiplier", int64_t{1});
  int64_t cin = in.shape[1];
  if (cin <= 0) layer_fail(l, "the input's channel count is unknown");
  const Tensor& kernel = weight(l, "depthwise_kernel", {k[0], k[1], cin, mult});
  // [kh, kw, cin, mult] -> [cin*mult, 1, kh, kw]; output channel c*mult+m as in TF.
  Tensor w = Tensor::zeros(DataType::float32, {cin * mult, 1, k[0], k[1]});
  const float* src = kernel.data<float>();
  float* dst = w.mutable_data<float>();
  for (int64_t y = 0; y < k[0]; ++y)
    for (int64_t x = 0; x < k[1]; ++x)
      for (int64_t c = 0; c < cin; ++c)
        for (int64_t m = 0; m < mult; ++m) dst[((c * mult + m) * k[0] + y) * k[1] + x] = src[((y * k[1] + x) * cin + c) * mult + m];
  std::vector<std::string> inputs = {in.name, init(l.name + "/depthwise_kernel", std::move(w))};
  if (l.config.value("use_bias", true)) inputs.push_back(init(l.name + "/bias", weight(l, "bias", {cin * mult})));
  auto [pads, out_hw] = window(l, in.shape, k, s, d);
  std::string act = keras_str(l, "activation", "linear");
  std::string conv_name = act == "linear" ? l.name : l.name + "/conv";
  Value out{node("Conv", conv_name, inputs,
                 {{"kernel_shape", k}, {"strides", s}, {"dilations", d}, {"pads", pads}, {"group", cin}}, conv_name),
            {in.shape[0], cin * mult, out_hw[0], out_hw[1]}};
  return activation(l, act, out, l.name);
}

Value Builder::separable(const Layer& l) {
  const Value& in = spatial_input(l);
  auto k = pair(l, "kernel_size", {});
  auto s = pair(l, "strides", {1, 1});
  auto d = pair(l, "dilation_rate", {1, 1});
  if (k.size() != 2) layer_fail(l, "kernel_size is missing");
  int64_t mult = l.config.value("depth_multiplier", int64_t{1});
  int64_t filters = l.config.at("filters").get<int64_t>();
  int64_t cin = in.shape[1];
  if (cin <= 0) layer_fail(l, "the input's channel count is unknown");
  const Tensor& dk = weight(l, "depthwise_kernel", {k[0], k[1], cin, mult});
  const Tensor& pk = weight(l, "pointwise_kernel", {1, 1, cin * mult, filters});
  Tensor dw = Tensor::zeros(DataType::float32, {cin * mult, 1, k[0], k[1]});
  for (int64_t y = 0; y < k[0]; ++y)
    for (int64_t x = 0; x < k[1]; ++x)
      for (int64_t c = 0; c < cin; ++c)
        for (int64_t m = 0; m < mult; ++m)
          dw.mutable_data<float>()[((c * mult + m) * k[0] + y) * k[1] + x] = dk.data<float>()[((y * k[1] + x) * cin + c) * mult + m];
  Tensor pw = Tensor::zeros(DataType::float32, {filters, cin * mult, 1, 1});
  for (int64_t i = 0; i < cin * mult; ++i)
    for (int64_t o = 0; o < filters; ++o) pw.mutable_data<float>()[o * cin * mult + i] = pk.data<float>()[i * filters + o];
  auto [pads, out_hw] = window(l, in.shape, k, s, d);
  std::string mid = node("Conv", l.name + "/depthwise",
                         {in.name, init(l.name + "/depthwise_kernel", std::move(dw))},
                         {{"kernel_shape", k}, {"strides", s}, {"dilations", d}, {"pads", pads}, {"group", cin}});
  std::vector<std::string> inputs = {mid, init(l.name + "/pointwise_kernel", std::move(pw))};
  if (l.config.value("use_bias", true)) inputs.push_back(init(l.name + "/bias", weight(l, "bias", {filters})));
  std::string act = keras_str(l, "activation", "linear");
  std::string conv_name = act == "linear" ? l.name : l.name + "/pointwise";
  Value out{node("Conv", conv_name, inputs,
                 {{"kernel_shape", std::vector<int64_t>{1, 1}}, {"strides", std::vector<int64_t>{1, 1}},
                  {"pads", std::vector<int64_t>{0, 0, 0, 0}}, {"group", int64_t{1}}},
                 conv_name),
            {in.shape[0], filters, out_hw[0], out_hw[1]}};
  return activation(l, act, out, l.name);
}

Value Builder::batchnorm(const Layer& l) {
  const Value& in = single_input(l);
  int64_t axis = -1;
  const auto& a = l.config.contains("axis") ? l.config["axis"] : json(-1);
  if (a.is_array()) {
    if (a.size() != 1) layer_fail(l, "normalising over several axes is not supported");
    axis = a[0].get<int64_t>();
  } else {
    axis = a.get<int64_t>();
  }
  if (in.shape.size() < 2 || graph_axis(l, axis, in.shape.size()) != 1) {
    layer_fail(l, "only normalisation over the channel axis is supported");
  }
  int64_t c = in.shape[1];
  float eps = l.config.value("epsilon", 1e-3f);
  Tensor gamma = l.config.value("scale", true) ? weight(l, "gamma", {c}) : float_tensor({c}, std::vector<float>(c, 1.0f));
  Tensor beta = l.config.value("center", true) ? weight(l, "beta", {c}) : float_tensor({c}, std::vector<float>(c, 0.0f));
  const Tensor& mean = weight(l, "moving_mean", {c});
  const Tensor& var = weight(l, "moving_variance", {c});
  std::vector<std::string> inputs = {in.name, init(l.name + "/gamma", gamma), init(l.name + "/beta", beta),
                                     init(l.name + "/moving_mean", mean), init(l.name + "/moving_variance", var)};
  return Value{node("BatchNormalization", l.name, inputs, {{"epsilon", eps}}, l.name), in.shape};
}

Value Builder::relu_layer(const Layer& l) {
  const Value& in = single_input(l);
  auto num = [&](const char* key, double fallback) {
    if (!l.config.contains(key) || l.config[key].is_null()) return fallback;
    return l.config[key].get<double>();
  };
  double max_value = num("max_value", -1);
  double slope = num("negative_slope", 0);
  double threshold = num("threshold", 0);
  bool has_max = l.config.contains("max_value") && !l.config["max_value"].is_null();
  std::string name = has_max ? l.name + "/relu" : l.name;
  Value v;
  if (threshold == 0 && slope == 0) {
    v = {node("Relu", name, {in.name}, {}, name), in.shape};
  } else if (threshold == 0) {
    v = {node("LeakyRelu", name, {in.name}, {{"alpha", static_cast<float>(slope)}}, name), in.shape};
  } else if (slope == 0) {
    v = {node("ThresholdedRelu", name, {in.name}, {{"alpha", static_cast<float>(threshold)}}, name), in.shape};
  } else {
    layer_fail(l, "a ReLU with both a threshold and a negative slope is not supported");
  }
  if (!has_max) return v;
  std::string lo = init(l.name + "/min", float_tensor({}, {-std::numeric_limits<float>::infinity()}));
  if (slope == 0) lo = init(l.name + "/min", float_tensor({}, {0.0f}));
  std::string hi = init(l.name + "/max", float_tensor({}, {static_cast<float>(max_value)}));
  return Value{node("Clip", l.name, {v.name, lo, hi}, {}, l.name), in.shape};
}

Value Builder::pooling(const Layer& l, bool max) {
  const Value& in = spatial_input(l);
  auto k = pair(l, "pool_size", {2, 2});
  auto s = pair(l, "strides", k);
  auto [pads, out_hw] = window(l, in.shape, k, s, {1, 1});
  std::map<std::string, Attribute> attrs = {{"kernel_shape", k}, {"strides", s}, {"pads", pads}};
  if (!max) attrs["count_include_pad"] = int64_t{0};  // TF averages over the real pixels only
  return Value{node(max ? "MaxPool" : "AveragePool", l.name, {in.name}, attrs, l.name),
               {in.shape[0], in.shape[1], out_hw[0], out_hw[1]}};
}

Value Builder::global_pooling(const Layer& l, bool max) {
  const Value& in = spatial_input(l);
  bool keepdims = l.config.value("keepdims", false);
  std::string pooled_name = keepdims ? l.name : l.name + "/pool";
  std::string pooled = node(max ? "GlobalMaxPool" : "GlobalAveragePool", pooled_name, {in.name}, {}, pooled_name);
  if (keepdims) return Value{pooled, {in.shape[0], in.shape[1], 1, 1}};
  return Value{node("Flatten", l.name, {pooled}, {{"axis", int64_t{1}}}, l.name), {in.shape[0], in.shape[1]}};
}

// ((top, bottom), (left, right)) from an int, a pair of ints, or a pair of pairs.
static std::vector<int64_t> four(const json& v, bool& ok) {
  ok = true;
  if (v.is_number_integer()) { int64_t p = v.get<int64_t>(); return {p, p, p, p}; }
  if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
    return {v[0].get<int64_t>(), v[0].get<int64_t>(), v[1].get<int64_t>(), v[1].get<int64_t>()};
  }
  if (v.is_array() && v.size() == 2 && v[0].is_array() && v[1].is_array() && v[0].size() == 2 && v[1].size() == 2) {
    return {v[0][0].get<int64_t>(), v[0][1].get<int64_t>(), v[1][0].get<int64_t>(), v[1][1].get<int64_t>()};
  }
  ok = false;
  return {};
}

Value Builder::zero_padding(const Layer& l) {
  const Value& in = spatial_input(l);
  bool ok = false;
  auto p = four(l.config.value("padding", json(1)), ok);  // top, bottom, left, right
  if (!ok || *std::min_element(p.begin(), p.end()) < 0) layer_fail(l, "bad padding");
  std::string pads = init(l.name + "/pads", int64_tensor({0, 0, p[0], p[2], 0, 0, p[1], p[3]}));
  auto grow = [](int64_t d, int64_t a, int64_t b) { return d < 0 ? d : d + a + b; };
  return Value{node("Pad", l.name, {in.name, pads}, {{"mode", std::string("constant")}}, l.name),
               {in.shape[0], in.shape[1], grow(in.shape[2], p[0], p[1]), grow(in.shape[3], p[2], p[3])}};
}

Value Builder::cropping(const Layer& l) {
  const Value& in = spatial_input(l);
  bool ok = false;
  auto c = four(l.config.value("cropping", json(0)), ok);  // top, bottom, left, right
  if (!ok || *std::min_element(c.begin(), c.end()) < 0) layer_fail(l, "bad cropping");
  if (in.shape[2] < 0 || in.shape[3] < 0) layer_fail(l, "cropping needs a known input size");
  int64_t h = in.shape[2] - c[0] - c[1], w = in.shape[3] - c[2] - c[3];
  if (h <= 0 || w <= 0) layer_fail(l, "cropping removes the whole image");
  // Pad with negative pads crops (ONNX Pad, opset 11+), keeping to ops every engine path has.
  std::string pads = init(l.name + "/pads", int64_tensor({0, 0, -c[0], -c[2], 0, 0, -c[1], -c[3]}));
  return Value{node("Pad", l.name, {in.name, pads}, {{"mode", std::string("constant")}}, l.name),
               {in.shape[0], in.shape[1], h, w}};
}

Value Builder::concatenate(const Layer& l) {
  if (l.inputs.size() < 2) layer_fail(l, "needs at least two inputs");
  size_t rank = l.inputs[0].shape.size();
  int64_t axis = graph_axis(l, l.config.value("axis", int64_t{-1}), rank);
  Shape shape = l.inputs[0].shape;
  std::vector<std::string> names;
  for (size_t i = 0; i < l.inputs.size(); ++i) {
    const auto& v = l.inputs[i];
    if (v.shape.size() != rank) layer_fail(l, "inputs of different ranks");
    for (size_t a = 1; a < rank; ++a) {
      if (static_cast<int64_t>(a) != axis && v.shape[a] != shape[a]) {
        layer_fail(l, fmt::format("input shapes {} and {} do not match", shape_str(shape), shape_str(v.shape)));
      }
    }
    if (i > 0) shape[axis] = (shape[axis] < 0 || v.shape[axis] < 0) ? -1 : shape[axis] + v.shape[axis];
    names.push_back(v.name);
  }
  return Value{node("Concat", l.name, names, {{"axis", axis}}, l.name), shape};
}

Value Builder::elementwise(const Layer& l, const std::string& op) {
  if (l.inputs.size() < 2) layer_fail(l, "needs at least two inputs");
  for (const auto& v : l.inputs) {
    if (v.shape != l.inputs[0].shape) {
      layer_fail(l, fmt::format("input shapes {} and {} differ", shape_str(l.inputs[0].shape), shape_str(v.shape)));
    }
  }
  std::string acc = l.inputs[0].name;
  for (size_t i = 1; i < l.inputs.size(); ++i) {
    bool last = i + 1 == l.inputs.size();
    std::string name = last ? l.name : l.name + "/" + std::to_string(i);
    acc = node(op, name, {acc, l.inputs[i].name}, {}, name);
  }
  return Value{acc, l.inputs[0].shape};
}

Value Builder::dense(const Layer& l) {
  const Value& in = single_input(l);
  if (in.shape.size() != 2) layer_fail(l, fmt::format("Dense on a {}-D input is not supported", in.shape.size()));
  int64_t units = l.config.at("units").get<int64_t>();
  int64_t cin = in.shape[1];
  std::vector<std::string> inputs = {in.name, init(l.name + "/kernel", weight(l, "kernel", {cin, units}))};
  if (l.config.value("use_bias", true)) inputs.push_back(init(l.name + "/bias", weight(l, "bias", {units})));
  std::string act = keras_str(l, "activation", "linear");
  std::string gemm_name = act == "linear" ? l.name : l.name + "/gemm";
  Value out{node("Gemm", gemm_name, inputs, {}, gemm_name), {in.shape[0], units}};
  return activation(l, act, out, l.name);
}

Value Builder::flatten(const Layer& l) {
  const Value& in = single_input(l);
  check_channels_last(l);
  // NHWC element order, as Keras flattens; a 1x1 spatial map has the same order either way.
  Value v = (in.shape.size() == 4 && !(in.shape[2] == 1 && in.shape[3] == 1)) ? to_nhwc(l, in) : in;
  int64_t n = 1;
  for (size_t i = 1; i < v.shape.size(); ++i) n = (n < 0 || v.shape[i] < 0) ? -1 : n * v.shape[i];
  return Value{node("Flatten", l.name, {v.name}, {{"axis", int64_t{1}}}, l.name), {in.shape[0], n}};
}

Value Builder::reshape(const Layer& l) {
  const Value& in = single_input(l);
  auto target = l.config.at("target_shape").get<std::vector<int64_t>>();
  if (target.empty() || target.size() > 3) layer_fail(l, "target_shape must have 1 to 3 dimensions");
  Value v = to_nhwc(l, in);
  std::vector<int64_t> shape = {0};
  shape.insert(shape.end(), target.begin(), target.end());
  bool to_4d = target.size() == 3;
  std::string name = to_4d ? l.name + "/nhwc" : l.name;
  std::string r = node("Reshape", name, {v.name, init(l.name + "/shape", int64_tensor(shape))}, {}, name);
  Shape out = {in.shape[0]};
  out.insert(out.end(), target.begin(), target.end());
  if (!to_4d) return Value{r, out};
  return Value{node("Transpose", l.name, {r}, {{"perm", std::vector<int64_t>{0, 3, 1, 2}}}, l.name),
               {out[0], out[3], out[1], out[2]}};
}

const std::vector<std::string>& layer_list() {
  static const std::vector<std::string> list = {
      "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "BatchNormalization", "Activation", "ReLU",
      "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D",
      "Cropping2D", "Concatenate", "Add", "Multiply", "Dense", "Flatten", "Reshape", "Dropout"};
  return list;
}

Value Builder::translate(const Layer& l) {
  const std::string& c = l.class_name;
  if (c == "Conv2D" || c == "Convolution2D") return conv(l);
  if (c == "DepthwiseConv2D") return depthwise(l);
  if (c == "SeparableConv2D" || c == "SeparableConvolution2D") return separable(l);
  if (c == "BatchNormalization") return batchnorm(l);
  if (c == "Activation") return activation(l, keras_str(l, "activation", "linear"), single_input(l), l.name);
  if (c == "ReLU") return relu_layer(l);
  if (c == "MaxPooling2D" || c == "MaxPool2D") return pooling(l, true);
  if (c == "AveragePooling2D" || c == "AvgPool2D") return pooling(l, false);
  if (c == "GlobalAveragePooling2D") return global_pooling(l, false);
  if (c == "GlobalMaxPooling2D") return global_pooling(l, true);
  if (c == "ZeroPadding2D") return zero_padding(l);
  if (c == "Cropping2D") return cropping(l);
  if (c == "Concatenate") return concatenate(l);
  if (c == "Add") return elementwise(l, "Add");
  if (c == "Multiply") return elementwise(l, "Mul");
  if (c == "Dense") return dense(l);
  if (c == "Flatten") return flatten(l);
  if (c == "Reshape") return reshape(l);
  if (c == "Dropout" || c == "SpatialDropout2D") {
    const Value& in = single_input(l);
    return Value{node("Identity", l.name, {in.name}, {}, l.name), in.shape};
  }
  if (c == "Lambda") layer_fail(l, "Lambda layers hold code and are never run; refusing the model");
  layer_fail(l, "this layer class is not supported (supported: " + fmt::format("{}", fmt::join(layer_list(), ", ")) + ")");
}

Value Builder::input_layer(const json& layer_json, const std::string& name) {
  const json& cfg = layer_json.contains("config") ? layer_json["config"] : json::object();
  json shape_json = cfg.contains("batch_input_shape") ? cfg["batch_input_shape"]
                    : cfg.contains("batch_shape")     ? cfg["batch_shape"]
                                                      : json();
  if (!shape_json.is_array()) fail("{}: input layer '{}' has no batch_input_shape", origin_, name);
  Shape nhwc;
  for (const auto& d : shape_json) nhwc.push_back(d.is_null() ? -1 : d.get<int64_t>());
  if (cfg.value("dtype", std::string("float32")) != "float32") fail("{}: input layer '{}' is not float32", origin_, name);
  if (!graph_.inputs.empty()) fail("{}: models with several inputs are not supported", origin_);
  graph_.inputs.push_back(ValueInfo{name, DataType::float32, nhwc});
  used_names_.insert(name);
  if (nhwc.size() == 4) {
    graph_.metadata["input_height"] = std::to_string(nhwc[1]);
    graph_.metadata["input_width"] = std::to_string(nhwc[2]);
    graph_.metadata["input_channels"] = std::to_string(nhwc[3]);
    std::string t = node("Transpose", name + "/to_nchw", {name}, {{"perm", std::vector<int64_t>{0, 3, 1, 2}}});
    return Value{t, {nhwc[0], nhwc[3], nhwc[1], nhwc[2]}};
  }
  return Value{name, nhwc};
}

void Builder::finish(const std::vector<std::string>& outputs) {
  // Every 4-D layer value is computed NCHW under "<layer>/nchw"; the name "<layer>" is a Transpose view in
  // Keras' NHWC layout, so a layer asked for by name (an output, --layer) reads exactly as in Keras. The engine
  // cuts the views nobody asks for.
  std::map<std::string, std::string> rename;
  for (const auto& [layer, v] : values_) {
    if (v.shape.size() == 4 && v.name == layer) {
      if (used_names_.count(layer + "/nchw")) fail("{}: layer name '{}/nchw' collides with an internal name", origin_, layer);
      rename[layer] = layer + "/nchw";
      used_names_.insert(layer + "/nchw");
    }
  }
  for (auto& n : graph_.nodes) {
    for (auto& i : n.inputs) {
      if (auto it = rename.find(i); it != rename.end()) i = it->second;
    }
    for (auto& o : n.outputs) {
      if (auto it = rename.find(o); it != rename.end()) o = it->second;
    }
  }
  for (const auto& [layer, nchw] : rename) {
    Value& v = values_[layer];
    node("Transpose", layer + "/nhwc", {nchw}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}}, layer);
    v = Value{layer, {v.shape[0], v.shape[2], v.shape[3], v.shape[1]}};
  }
  for (const auto& layer_name : outputs) {
    auto it = values_.find(layer_name);
    if (it == values_.end()) fail("{}: output layer '{}' is not in the model", origin_, layer_name);
    const Value& v = it->second;
    graph_.outputs.push_back(ValueInfo{v.name, DataType::float32, v.shape});
  }
  for (const auto& [layer, ws] : weights_.layers) {
    for (const auto& [wname, t] : ws) {
      if (!used_weights_.count(layer + "/" + wname)) {
        fail("{}: weights hold {}/{} but the model has no layer that uses it", weights_.origin, layer, wname);
      }
    }
  }
}

std::string inbound_name(const json& ref, const std::string& origin, const std::string& layer) {
  // Keras 2: ["name", node_index, tensor_index, kwargs]
  if (!ref.is_array() || ref.empty() || !ref[0].is_string()) {
    fail("{}: layer '{}': inbound node in an unknown format (Keras 3 files are not supported)", origin, layer);
  }
  if (ref.size() > 1 && ref[1].is_number_integer() && ref[1].get<int64_t>() != 0) {
    fail("{}: layer '{}': shared layers (called more than once) are not supported", origin, layer);
  }
  if (ref.size() > 2 && ref[2].is_number_integer() && ref[2].get<int64_t>() != 0) {
    fail("{}: layer '{}': layers with several outputs are not supported", origin, layer);
  }
  return ref[0].get<std::string>();
}

Graph Builder::build(const json& model_config) {
  if (!model_config.is_object() || !model_config.contains("class_name")) fail("{}: model_config has no class_name", origin_);
  const std::string cls = model_config["class_name"].get<std::string>();
  const json& cfg = model_config.contains("config") ? model_config["config"] : json();
  graph_.metadata["keras_class_name"] = cls;
  if (cls == "Sequential") {
    const json& layers = cfg.is_array() ? cfg : cfg.is_object() && cfg.contains("layers") ? cfg["layers"] : json();
    if (!layers.is_array() || layers.empty()) fail("{}: Sequential model without layers", origin_);
    Value current;
    bool have = false;
    std::string last;
    for (size_t i = 0; i < layers.size(); ++i) {
      const json& lj = layers[i];
      Layer l{lj.at("config").value("name", fmt::format("layer_{}", i)), lj.at("class_name").get<std::string>(),
              lj.at("config"), {}};
      if (l.class_name == "InputLayer" || !have) {
        current = input_layer(l.class_name == "InputLayer" ? lj : json{{"config", l.config}},
                              l.class_name == "InputLayer" ? l.name : std::string("input"));
        have = true;
        if (l.class_name == "InputLayer") { values_[l.name] = current; last = l.name; continue; }
      }
      l.inputs = {current};
      current = translate(l);
      values_[l.name] = current;
      last = l.name;
    }
    finish({last});
  } else if (cls == "Model" || cls == "Functional") {
    if (!cfg.is_object() || !cfg.contains("layers")) fail("{}: functional model without layers", origin_);
    for (const auto& lj : cfg["layers"]) {
      Layer l{lj.at("name").get<std::string>(), lj.at("class_name").get<std::string>(),
              lj.contains("config") ? lj["config"] : json::object(), {}};
      if (values_.count(l.name)) fail("{}: two layers are named '{}'", origin_, l.name);
      if (l.class_name == "InputLayer") {
        values_[l.name] = input_layer(lj, l.name);
        continue;
      }
      const json& inbound = lj.contains("inbound_nodes") ? lj["inbound_nodes"] : json::array();
      if (!inbound.is_array() || inbound.size() != 1) {
        if (inbound.is_array() && inbound.empty()) fail("{}: layer '{}' ({}) has no inputs", origin_, l.name, l.class_name);
        fail("{}: layer '{}' ({}): shared layers (called more than once) are not supported", origin_, l.name, l.class_name);
      }
      for (const auto& ref : inbound[0]) {
        std::string src = inbound_name(ref, origin_, l.name);
        auto it = values_.find(src);
        if (it == values_.end()) fail("{}: layer '{}' takes input from '{}', which is not defined before it", origin_, l.name, src);
        l.inputs.push_back(it->second);
      }
      values_[l.name] = translate(l);
    }
    std::vector<std::string> outs;
    for (const auto& ref : cfg.at("output_layers")) outs.push_back(inbound_name(ref, origin_, "output_layers"));
    finish(outs);
  } else {
    fail("{}: model class '{}' is not supported (Model, Functional or Sequential)", origin_, cls);
  }
  if (graph_.inputs.empty()) fail("{}: the model has no input layer", origin_);
  graph_.metadata["input_layout"] = "nhwc";
  graph_.metadata["internal_layout"] = "nchw";
  graph_.metadata["keras_parameters"] = std::to_string(keras_parameters_);
  return std::move(graph_);
}

}  // namespace

const std::vector<std::string>& supported_keras_layers() { return layer_list(); }

Graph build_keras_graph(const nlohmann::json& model_config, const KerasWeights& weights, const std::string& origin) {
  try {
    Builder b(weights, origin);
    return b.build(model_config);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed model_config: {}", origin, e.what());
  }
}

}  // namespace xfer::nn::keras
