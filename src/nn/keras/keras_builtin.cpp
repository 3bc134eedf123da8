// The keras.applications (Keras 2.2.4 / keras_applications 1.0.6) builders, ported to emit model_config JSON.
#include "nn/keras/keras_builtin.h"

#include <map>

#include "util/error.h"

namespace xfer::nn::keras {

namespace {

using nlohmann::json;
using T = std::string;  // a tensor is the name of the layer that produced it (each layer called once)

// Builds a Functional model_config layer by layer, naming unnamed layers as Keras 2.2.4 does
// (snake_case class name + per-prefix counter starting at 1).
class ModelWriter {
 public:
  explicit ModelWriter(std::string model_name) : name_(std::move(model_name)) {}

  T input(int64_t size) {
    T n = auto_name("input", "");
    layers_.push_back({{"name", n},
                       {"class_name", "InputLayer"},
                       {"config", {{"batch_input_shape", {nullptr, size, size, 3}}, {"dtype", "float32"}, {"sparse", false}, {"name", n}}},
                       {"inbound_nodes", json::array()}});
    input_ = n;
    return n;
  }
  T layer(const std::string& cls, const std::string& prefix, json config, const std::vector<T>& inputs,
          const std::string& name = "") {
    T n = auto_name(prefix, name);
    config["name"] = n;
    config["trainable"] = true;
    json in = json::array();
    for (const auto& i : inputs) in.push_back({i, 0, 0, json::object()});
    layers_.push_back({{"name", n}, {"class_name", cls}, {"config", config}, {"inbound_nodes", {in}}});
    return n;
  }

  // The layers keras.applications uses.
  T conv(const T& x, int64_t filters, int64_t kh, int64_t kw, int64_t stride, const std::string& padding, bool bias,
         const std::string& name = "", const std::string& act = "linear") {
    return layer("Conv2D", "conv2d",
                 {{"filters", filters}, {"kernel_size", {kh, kw}}, {"strides", {stride, stride}}, {"padding", padding},
                  {"data_format", "channels_last"}, {"dilation_rate", {1, 1}}, {"activation", act}, {"use_bias", bias}},
                 {x}, name);
  }
  T sepconv(const T& x, int64_t filters, int64_t k, int64_t stride, const std::string& padding, bool bias,
            const std::string& name) {
    return layer("SeparableConv2D", "separable_conv2d",
                 {{"filters", filters}, {"kernel_size", {k, k}}, {"strides", {stride, stride}}, {"padding", padding},
                  {"data_format", "channels_last"}, {"dilation_rate", {1, 1}}, {"depth_multiplier", 1},
                  {"activation", "linear"}, {"use_bias", bias}},
                 {x}, name);
  }
  T depthwise(const T& x, int64_t k, int64_t stride, const std::string& padding, bool bias, const std::string& name) {
    return layer("DepthwiseConv2D", "depthwise_conv2d",
                 {{"kernel_size", {k, k}}, {"strides", {stride, stride}}, {"padding", padding},
                  {"data_format", "channels_last"}, {"dilation_rate", {1, 1}}, {"depth_multiplier", 1},
                  {"activation", "linear"}, {"use_bias", bias}},
                 {x}, name);
  }
  T bn(const T& x, bool scale, double eps = 1e-3, const std::string& name = "", double momentum = 0.99) {
    return layer("BatchNormalization", "batch_normalization",
                 {{"axis", 3}, {"momentum", momentum}, {"epsilon", eps}, {"center", true}, {"scale", scale}}, {x}, name);
  }
  T act(const T& x, const std::string& a, const std::string& name = "") {
    return layer("Activation", "activation", {{"activation", a}}, {x}, name);
  }
  T relu6(const T& x, const std::string& name) {
    return layer("ReLU", "re_lu", {{"max_value", 6.0}, {"negative_slope", 0.0}, {"threshold", 0.0}}, {x}, name);
  }
  T pool(const std::string& cls, const std::string& prefix, const T& x, int64_t k, int64_t s, const std::string& padding,
         const std::string& name = "") {
    return layer(cls, prefix,
                 {{"pool_size", {k, k}}, {"strides", {s, s}}, {"padding", padding}, {"data_format", "channels_last"}},
                 {x}, name);
  }
  T maxpool(const T& x, int64_t k, int64_t s, const std::string& padding = "valid", const std::string& name = "") {
    return pool("MaxPooling2D", "max_pooling2d", x, k, s, padding, name);
  }
  T avgpool(const T& x, int64_t k, int64_t s, const std::string& padding = "valid", const std::string& name = "") {
    return pool("AveragePooling2D", "average_pooling2d", x, k, s, padding, name);
  }
  T concat(const std::vector<T>& xs, const std::string& name = "") {
    return layer("Concatenate", "concatenate", {{"axis", 3}}, xs, name);
  }
  T add(const std::vector<T>& xs, const std::string& name = "") { return layer("Add", "add", json::object(), xs, name); }
  T zeropad(const T& x, int64_t top, int64_t bottom, int64_t left, int64_t right, const std::string& name = "") {
    return layer("ZeroPadding2D", "zero_padding2d",
                 {{"padding", {{top, bottom}, {left, right}}}, {"data_format", "channels_last"}}, {x}, name);
  }
  T gap(const T& x, const std::string& name) {
    return layer("GlobalAveragePooling2D", "global_average_pooling2d", {{"data_format", "channels_last"}}, {x}, name);
  }
  T flatten(const T& x, const std::string& name) {
    return layer("Flatten", "flatten", {{"data_format", "channels_last"}}, {x}, name);
  }
  T dense(const T& x, int64_t units, const std::string& act, const std::string& name) {
    return layer("Dense", "dense", {{"units", units}, {"activation", act}, {"use_bias", true}}, {x}, name);
  }

  json finish(const T& output) const {
    return {{"class_name", "Model"},
            {"config",
             {{"name", name_},
              {"layers", layers_},
              {"input_layers", {{input_, 0, 0}}},
              {"output_layers", {{output, 0, 0}}}}}};
  }

 private:
  T auto_name(const std::string& prefix, const std::string& name) {
    if (!name.empty()) return name;
    return prefix + "_" + std::to_string(++counters_[prefix]);
  }
  std::string name_;
  json layers_ = json::array();
  std::map<std::string, int> counters_;
  T input_;
};

// keras_applications/inception_v3.py
json inception_v3(bool include_top) {
  ModelWriter m("inception_v3");
  auto cbn = [&](const T& x, int64_t f, int64_t r, int64_t c, const std::string& padding = "same", int64_t s = 1,
                 const std::string& name = "") {
    T y = m.conv(x, f, r, c, s, padding, false, name.empty() ? "" : name + "_conv");
    y = m.bn(y, false, 1e-3, name.empty() ? "" : name + "_bn");
    return m.act(y, "relu", name);
  };
  T x = m.input(299);
  x = cbn(x, 32, 3, 3, "valid", 2);
  x = cbn(x, 32, 3, 3, "valid");
  x = cbn(x, 64, 3, 3);
  x = m.maxpool(x, 3, 2);
  x = cbn(x, 80, 1, 1, "valid");
  x = cbn(x, 192, 3, 3, "valid");
  x = m.maxpool(x, 3, 2);
  // mixed 0, 1, 2: 35 x 35 x 256/288
  for (int i = 0; i < 3; ++i) {
    T b1 = cbn(x, 64, 1, 1);
    T b5 = cbn(x, 48, 1, 1);
    b5 = cbn(b5, 64, 5, 5);
    T b3 = cbn(x, 64, 1, 1);
    b3 = cbn(b3, 96, 3, 3);
    b3 = cbn(b3, 96, 3, 3);
    T bp = m.avgpool(x, 3, 1, "same");
    bp = cbn(bp, i == 0 ? 32 : 64, 1, 1);
    x = m.concat({b1, b5, b3, bp}, "mixed" + std::to_string(i));
  }
  // mixed 3: 17 x 17 x 768
  {
    T b3 = cbn(x, 384, 3, 3, "valid", 2);
    T bd = cbn(x, 64, 1, 1);
    bd = cbn(bd, 96, 3, 3);
    bd = cbn(bd, 96, 3, 3, "valid", 2);
    T bp = m.maxpool(x, 3, 2);
    x = m.concat({b3, bd, bp}, "mixed3");
  }
  // mixed 4..7: 17 x 17 x 768
  for (int i = 4; i <= 7; ++i) {
    int64_t c = i == 4 ? 128 : i == 7 ? 192 : 160;
    T b1 = cbn(x, 192, 1, 1);
    T b7 = cbn(x, c, 1, 1);
    b7 = cbn(b7, c, 1, 7);
    b7 = cbn(b7, 192, 7, 1);
    T bd = cbn(x, c, 1, 1);
    bd = cbn(bd, c, 7, 1);
    bd = cbn(bd, c, 1, 7);
    bd = cbn(bd, c, 7, 1);
    bd = cbn(bd, 192, 1, 7);
    T bp = m.avgpool(x, 3, 1, "same");
    bp = cbn(bp, 192, 1, 1);
    x = m.concat({b1, b7, bd, bp}, "mixed" + std::to_string(i));
  }
  // mixed 8: 8 x 8 x 1280
  {
    T b3 = cbn(x, 192, 1, 1);
    b3 = cbn(b3, 320, 3, 3, "valid", 2);
    T b7 = cbn(x, 192, 1, 1);
    b7 = cbn(b7, 192, 1, 7);
    b7 = cbn(b7, 192, 7, 1);
    b7 = cbn(b7, 192, 3, 3, "valid", 2);
    T bp = m.maxpool(x, 3, 2);
    x = m.concat({b3, b7, bp}, "mixed8");
  }
  // mixed 9, 10: 8 x 8 x 2048
  for (int i = 0; i < 2; ++i) {
    T b1 = cbn(x, 320, 1, 1);
    T b3 = cbn(x, 384, 1, 1);
    T b31 = cbn(b3, 384, 1, 3);
    T b32 = cbn(b3, 384, 3, 1);
    b3 = m.concat({b31, b32}, "mixed9_" + std::to_string(i));
    T bd = cbn(x, 448, 1, 1);
    bd = cbn(bd, 384, 3, 3);
    T bd1 = cbn(bd, 384, 1, 3);
    T bd2 = cbn(bd, 384, 3, 1);
    bd = m.concat({bd1, bd2});
    T bp = m.avgpool(x, 3, 1, "same");
    bp = cbn(bp, 192, 1, 1);
    x = m.concat({b1, b3, bd, bp}, "mixed" + std::to_string(9 + i));
  }
  if (include_top) {
    x = m.gap(x, "avg_pool");
    x = m.dense(x, 1000, "softmax", "predictions");
  }
  return m.finish(x);
}

// keras_applications/vgg16.py and vgg19.py
json vgg(int depth, bool include_top) {
  ModelWriter m(depth == 16 ? "vgg16" : "vgg19");
  T x = m.input(224);
  const int64_t filters[5] = {64, 128, 256, 512, 512};
  for (int b = 0; b < 5; ++b) {
    int convs = b < 2 ? 2 : (depth == 16 ? 3 : 4);
    for (int c = 0; c < convs; ++c) {
      x = m.conv(x, filters[b], 3, 3, 1, "same", true, fmt::format("block{}_conv{}", b + 1, c + 1), "relu");
    }
    x = m.maxpool(x, 2, 2, "valid", fmt::format("block{}_pool", b + 1));
  }
  if (include_top) {
    x = m.flatten(x, "flatten");
    x = m.dense(x, 4096, "relu", "fc1");
    x = m.dense(x, 4096, "relu", "fc2");
    x = m.dense(x, 1000, "softmax", "predictions");
  }
  return m.finish(x);
}

// keras_applications/resnet50.py (1.0.6): identity_block / conv_block with res{stage}{block}_branch names.
json resnet50(bool include_top) {
  ModelWriter m("resnet50");
  auto block = [&](const T& in, int64_t k, std::vector<int64_t> f, int stage, char blk, bool conv, int64_t stride) {
    std::string conv_base = fmt::format("res{}{}_branch", stage, blk);
    std::string bn_base = fmt::format("bn{}{}_branch", stage, blk);
    T x = m.conv(in, f[0], 1, 1, conv ? stride : 1, "valid", true, conv_base + "2a");
    x = m.bn(x, true, 1e-3, bn_base + "2a");
    x = m.act(x, "relu");
    x = m.conv(x, f[1], k, k, 1, "same", true, conv_base + "2b");
    x = m.bn(x, true, 1e-3, bn_base + "2b");
    x = m.act(x, "relu");
    x = m.conv(x, f[2], 1, 1, 1, "valid", true, conv_base + "2c");
    x = m.bn(x, true, 1e-3, bn_base + "2c");
    T shortcut = in;
    if (conv) {
      shortcut = m.conv(in, f[2], 1, 1, stride, "valid", true, conv_base + "1");
      shortcut = m.bn(shortcut, true, 1e-3, bn_base + "1");
    }
    x = m.add({x, shortcut});
    return m.act(x, "relu");
  };
  T x = m.input(224);
  x = m.zeropad(x, 3, 3, 3, 3, "conv1_pad");
  x = m.conv(x, 64, 7, 7, 2, "valid", true, "conv1");
  x = m.bn(x, true, 1e-3, "bn_conv1");
  x = m.act(x, "relu");
  x = m.zeropad(x, 1, 1, 1, 1, "pool1_pad");
  x = m.maxpool(x, 3, 2);
  x = block(x, 3, {64, 64, 256}, 2, 'a', true, 1);
  x = block(x, 3, {64, 64, 256}, 2, 'b', false, 1);
  x = block(x, 3, {64, 64, 256}, 2, 'c', false, 1);
  const char* names = "abcdef";
  for (int i = 0; i < 4; ++i) x = block(x, 3, {128, 128, 512}, 3, names[i], i == 0, 2);
  for (int i = 0; i < 6; ++i) x = block(x, 3, {256, 256, 1024}, 4, names[i], i == 0, 2);
  for (int i = 0; i < 3; ++i) x = block(x, 3, {512, 512, 2048}, 5, names[i], i == 0, 2);
  if (include_top) {
    x = m.gap(x, "avg_pool");
    x = m.dense(x, 1000, "softmax", "fc1000");
  }
  return m.finish(x);
}

// keras_applications/mobilenet_v2.py (alpha 1.0, 224).
json mobilenet_v2(bool include_top) {
  ModelWriter m("mobilenetv2_1.00_224");
  auto make_divisible = [](double v, int64_t divisor) {
    int64_t nv = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
    if (nv < 0.9 * v) nv += divisor;
    return nv;
  };
  int64_t in_channels = 32;
  auto inverted_res = [&](const T& in, int64_t filters, int64_t stride, int64_t expansion, int block_id) {
    int64_t pointwise = make_divisible(static_cast<double>(filters), 8);
    std::string prefix = block_id ? fmt::format("block_{}_", block_id) : "expanded_conv_";
    T x = in;
    if (block_id) {
      x = m.conv(x, expansion * in_channels, 1, 1, 1, "same", false, prefix + "expand");
      x = m.bn(x, true, 1e-3, prefix + "expand_BN", 0.999);
      x = m.relu6(x, prefix + "expand_relu");
    }
    if (stride == 2) x = m.zeropad(x, 0, 1, 0, 1, prefix + "pad");
    x = m.depthwise(x, 3, stride, stride == 1 ? "same" : "valid", false, prefix + "depthwise");
    x = m.bn(x, true, 1e-3, prefix + "depthwise_BN", 0.999);
    x = m.relu6(x, prefix + "depthwise_relu");
    x = m.conv(x, pointwise, 1, 1, 1, "same", false, prefix + "project");
    x = m.bn(x, true, 1e-3, prefix + "project_BN", 0.999);
    if (in_channels == pointwise && stride == 1) x = m.add({in, x}, prefix + "add");
    in_channels = pointwise;
    return x;
  };
  T x = m.input(224);
  x = m.zeropad(x, 0, 1, 0, 1, "Conv1_pad");
  x = m.conv(x, 32, 3, 3, 2, "valid", false, "Conv1");
  x = m.bn(x, true, 1e-3, "bn_Conv1", 0.999);
  x = m.relu6(x, "Conv1_relu");
  struct B { int64_t f, s, e; };
  const B blocks[] = {{16, 1, 1}, {24, 2, 6}, {24, 1, 6}, {32, 2, 6}, {32, 1, 6}, {32, 1, 6}, {64, 2, 6},
                      {64, 1, 6}, {64, 1, 6}, {64, 1, 6}, {96, 1, 6}, {96, 1, 6}, {96, 1, 6}, {160, 2, 6},
                      {160, 1, 6}, {160, 1, 6}, {320, 1, 6}};
  for (int i = 0; i < 17; ++i) x = inverted_res(x, blocks[i].f, blocks[i].s, blocks[i].e, i);
  x = m.conv(x, 1280, 1, 1, 1, "valid", false, "Conv_1");
  x = m.bn(x, true, 1e-3, "Conv_1_bn", 0.999);
  x = m.relu6(x, "out_relu");
  if (include_top) {
    x = m.gap(x, "global_average_pooling2d_1");
    x = m.dense(x, 1000, "softmax", "Logits");
  }
  return m.finish(x);
}

// keras_applications/xception.py
json xception(bool include_top) {
  ModelWriter m("xception");
  T x = m.input(299);
  x = m.conv(x, 32, 3, 3, 2, "valid", false, "block1_conv1");
  x = m.bn(x, true, 1e-3, "block1_conv1_bn");
  x = m.act(x, "relu", "block1_conv1_act");
  x = m.conv(x, 64, 3, 3, 1, "valid", false, "block1_conv2");
  x = m.bn(x, true, 1e-3, "block1_conv2_bn");
  x = m.act(x, "relu", "block1_conv2_act");
  const int64_t entry[3] = {128, 256, 728};
  for (int b = 0; b < 3; ++b) {
    std::string p = fmt::format("block{}_", b + 2);
    T residual = m.conv(x, entry[b], 1, 1, 2, "same", false);
    residual = m.bn(residual, true, 1e-3);
    if (b > 0) x = m.act(x, "relu", p + "sepconv1_act");
    x = m.sepconv(x, entry[b], 3, 1, "same", false, p + "sepconv1");
    x = m.bn(x, true, 1e-3, p + "sepconv1_bn");
    x = m.act(x, "relu", p + "sepconv2_act");
    x = m.sepconv(x, entry[b], 3, 1, "same", false, p + "sepconv2");
    x = m.bn(x, true, 1e-3, p + "sepconv2_bn");
    x = m.maxpool(x, 3, 2, "same", p + "pool");
    x = m.add({x, residual});
  }
  for (int i = 0; i < 8; ++i) {
    std::string p = fmt::format("block{}_", i + 5);
    T residual = x;
    for (int k = 1; k <= 3; ++k) {
      x = m.act(x, "relu", fmt::format("{}sepconv{}_act", p, k));
      x = m.sepconv(x, 728, 3, 1, "same", false, fmt::format("{}sepconv{}", p, k));
      x = m.bn(x, true, 1e-3, fmt::format("{}sepconv{}_bn", p, k));
    }
    x = m.add({x, residual});
  }
  T residual = m.conv(x, 1024, 1, 1, 2, "same", false);
  residual = m.bn(residual, true, 1e-3);
  x = m.act(x, "relu", "block13_sepconv1_act");
  x = m.sepconv(x, 728, 3, 1, "same", false, "block13_sepconv1");
  x = m.bn(x, true, 1e-3, "block13_sepconv1_bn");
  x = m.act(x, "relu", "block13_sepconv2_act");
  x = m.sepconv(x, 1024, 3, 1, "same", false, "block13_sepconv2");
  x = m.bn(x, true, 1e-3, "block13_sepconv2_bn");
  x = m.maxpool(x, 3, 2, "same", "block13_pool");
  x = m.add({x, residual});
  x = m.sepconv(x, 1536, 3, 1, "same", false, "block14_sepconv1");
  x = m.bn(x, true, 1e-3, "block14_sepconv1_bn");
  x = m.act(x, "relu", "block14_sepconv1_act");
  x = m.sepconv(x, 2048, 3, 1, "same", false, "block14_sepconv2");
  x = m.bn(x, true, 1e-3, "block14_sepconv2_bn");
  x = m.act(x, "relu", "block14_sepconv2_act");
  if (include_top) {
    x = m.gap(x, "avg_pool");
    x = m.dense(x, 1000, "softmax", "predictions");
  }
  return m.finish(x);
}

}  // namespace

const std::vector<BuiltinInfo>& builtin_architectures() {
  static const std::vector<BuiltinInfo> list = {
      {"inception_v3", 299, "tf", "avg_pool", "mixed10"},
      {"xception", 299, "tf", "avg_pool", "block14_sepconv2_act"},
      {"resnet50", 224, "caffe", "avg_pool", "activation_49"},
      {"vgg16", 224, "caffe", "fc2", "block5_pool"},
      {"vgg19", 224, "caffe", "fc2", "block5_pool"},
      {"mobilenet_v2", 224, "tf", "global_average_pooling2d_1", "out_relu"},
  };
  return list;
}

const BuiltinInfo* find_builtin(const std::string& name) {
  for (const auto& b : builtin_architectures()) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

nlohmann::json builtin_keras_config(const std::string& name, bool include_top) {
  if (name == "inception_v3") return inception_v3(include_top);
  if (name == "vgg16") return vgg(16, include_top);
  if (name == "vgg19") return vgg(19, include_top);
  if (name == "resnet50") return resnet50(include_top);
  if (name == "mobilenet_v2") return mobilenet_v2(include_top);
  if (name == "xception") return xception(include_top);
  usage_fail("unknown built-in Keras architecture '{}'", name);
}

}  // namespace xfer::nn::keras
