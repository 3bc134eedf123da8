#include "nn/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>

#include "nn/errors.h"
#include "nn/float16.h"

namespace xfer::nn {
namespace {

using Shape = std::vector<int64_t>;

const std::vector<std::string> kSupported = {
    "Conv", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LRN", "Concat", "Add", "Sub", "Mul", "Div",
    "Gemm", "MatMul", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Pad", "Softmax", "ReduceMean",
    "Dropout", "Identity", "Constant", "Shape", "Gather", "Cast"};

// Everything a kernel needs to know about its call, and the messages that name op, node and opset.
struct Call {
  const Node& node;
  const std::vector<const Tensor*>& in;
  int64_t opset;

  const Tensor* opt(size_t i) const { return i < in.size() ? in[i] : nullptr; }
  const Tensor& need(size_t i) const {
    const Tensor* t = opt(i);
    if (!t) fail("node '{}' ({}): input {} is missing", node.name, node.op_type, i);
    return *t;
  }
  template <typename... Args>
  [[noreturn]] void unsupported_case(fmt::format_string<Args...> format, Args&&... args) const {
    unsupported("node '{}' ({}, opset {}): {}", node.name, node.op_type, opset,
                fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  [[noreturn]] void invalid(fmt::format_string<Args...> format, Args&&... args) const {
    fail("node '{}' ({}): {}", node.name, node.op_type, fmt::format(format, std::forward<Args>(args)...));
  }
};

int64_t count_of(const Shape& s) {
  int64_t c = 1;
  for (auto d : s) c *= d;
  return c;
}

int64_t normalize_axis(const Call& c, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) c.invalid("axis {} is out of range for rank {}", axis, rank);
  return axis < 0 ? axis + rank : axis;
}

// Calls f(T{}) with the C++ type of a numeric tensor type; 16-bit floats only move, they are not computed on.
template <typename F>
void numeric(const Call& c, DataType t, F&& f) {
  switch (t) {
    case DataType::float32: f(float{}); return;
    case DataType::float64: f(double{}); return;
    case DataType::int8: f(int8_t{}); return;
    case DataType::uint8: f(uint8_t{}); return;
    case DataType::int32: f(int32_t{}); return;
    case DataType::int64: f(int64_t{}); return;
    case DataType::boolean: f(bool{}); return;
    default: c.unsupported_case("data type {} is not supported for arithmetic", to_string(t));
  }
}

template <typename F>
void floating(const Call& c, DataType t, F&& f) {
  switch (t) {
    case DataType::float32: f(float{}); return;
    case DataType::float64: f(double{}); return;
    default: c.unsupported_case("data type {} is not supported (float32/float64 only)", to_string(t));
  }
}

std::vector<int64_t> ints_of(const Call& c, const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.element_count()));
  if (t.type == DataType::int64) std::copy_n(t.data<int64_t>(), v.size(), v.begin());
  else if (t.type == DataType::int32) std::copy_n(t.data<int32_t>(), v.size(), v.begin());
  else c.invalid("expected an int32/int64 tensor, got {}", to_string(t.type));
  return v;
}

double scalar_of(const Call& c, const Tensor& t) {
  if (t.element_count() != 1) c.invalid("expected a scalar, got {} values", t.element_count());
  double v = 0;
  numeric(c, t.type, [&](auto tag) { v = static_cast<double>(t.data<decltype(tag)>()[0]); });
  return v;
}

Tensor same_as(const Tensor& x) { return Tensor::zeros(x.type, x.shape); }

// Element strides of `shape` inside a broadcast to `out` (0 along broadcast dimensions).
Shape broadcast_strides(const Shape& shape, const Shape& out) {
  Shape strides(out.size(), 0);
  int64_t s = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    size_t oi = out.size() - 1 - i, si = shape.size() - 1 - i;
    strides[oi] = shape[si] == 1 ? 0 : s;
    s *= shape[si];
  }
  return strides;
}

Shape broadcast_shape(const Call& c, const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1, db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) c.invalid("shapes [{}] and [{}] do not broadcast", fmt::join(a, ","), fmt::join(b, ","));
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

// Visits every output element with the matching element offsets of up to three broadcast inputs.
template <size_t K, typename F>
void broadcast_loop(const Shape& out, const std::array<Shape, K>& strides, F&& f) {
  int64_t total = count_of(out);
  size_t rank = out.size();
  Shape idx(rank, 0);
  std::array<int64_t, K> off{};
  for (int64_t i = 0; i < total; ++i) {
    f(i, off);
    for (size_t d = rank; d-- > 0;) {
      ++idx[d];
      for (size_t k = 0; k < K; ++k) off[k] += strides[k][d];
      if (idx[d] < out[d]) break;
      for (size_t k = 0; k < K; ++k) off[k] -= strides[k][d] * out[d];
      idx[d] = 0;
    }
  }
}

// ---- elementwise ----

std::vector<Tensor> binary(const Call& c) {
  const Tensor& a = c.need(0);
  const Tensor& b = c.need(1);
  if (c.node.has_attr("broadcast") || c.node.has_attr("axis")) c.unsupported_case("legacy broadcast attributes");
  if (a.type != b.type) c.invalid("input types differ ({} and {})", to_string(a.type), to_string(b.type));
  Shape out_shape = broadcast_shape(c, a.shape, b.shape);
  Tensor out = Tensor::zeros(a.type, out_shape);
  const std::string& op = c.node.op_type;
  numeric(c, a.type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("arithmetic on bool tensors");
    } else {
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* po = out.mutable_data<T>();
      std::array<Shape, 2> strides{broadcast_strides(a.shape, out_shape), broadcast_strides(b.shape, out_shape)};
      auto run = [&](auto fn) { broadcast_loop<2>(out_shape, strides, [&](int64_t i, const std::array<int64_t, 2>& o) { po[i] = static_cast<T>(fn(pa[o[0]], pb[o[1]])); }); };
      if (op == "Add") run([](T x, T y) { return x + y; });
      else if (op == "Sub") run([](T x, T y) { return x - y; });
      else if (op == "Mul") run([](T x, T y) { return x * y; });
      else {
        if constexpr (std::is_integral_v<T>) {
          run([&](T x, T y) {
            if (y == 0) c.invalid("integer division by zero");
            return x / y;
          });
        } else {
          run([](T x, T y) { return x / y; });
        }
      }
    }
  });
  return {out};
}

float activation_value(const std::string& act, float alpha, float beta, float x) {
  if (act == "Relu") return x > 0 ? x : 0.0f;
  if (act == "LeakyRelu") return x >= 0 ? x : alpha * x;
  if (act == "Clip") return std::min(std::max(x, alpha), beta);
  if (act == "Sigmoid") return 1.0f / (1.0f + std::exp(-x));
  if (act == "Tanh") return std::tanh(x);
  if (act == "HardSigmoid") return std::max(0.0f, std::min(1.0f, alpha * x + beta));
  if (act == "HardSwish") return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
  fail("unknown activation '{}'", act);
}

template <typename T>
T unary_value(const std::string& op, double alpha, double beta, T x) {
  if (op == "Relu") return x > T(0) ? x : T(0);
  if constexpr (std::is_floating_point_v<T>) {
    if (op == "LeakyRelu") return x >= 0 ? x : static_cast<T>(alpha) * x;
    if (op == "Sigmoid") return T(1) / (T(1) + std::exp(-x));
    if (op == "Tanh") return std::tanh(x);
    if (op == "HardSigmoid") return std::max(T(0), std::min(T(1), static_cast<T>(alpha) * x + static_cast<T>(beta)));
    if (op == "HardSwish") return x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5)));
  }
  fail("unary op {} on an integer type", op);
}

std::vector<Tensor> unary(const Call& c) {
  const Tensor& x = c.need(0);
  Tensor out = same_as(x);
  const std::string& op = c.node.op_type;
  double alpha = c.node.attr_float("alpha", op == "LeakyRelu" ? 0.01f : op == "HardSigmoid" ? 0.2f : 0.0f);
  double beta = c.node.attr_float("beta", op == "HardSigmoid" ? 0.5f : 0.0f);
  auto body = [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("bool input");
    } else {
      if (op != "Relu" && !std::is_floating_point_v<T>) c.unsupported_case("integer input");
      const T* px = x.data<T>();
      T* po = out.mutable_data<T>();
      for (int64_t i = 0; i < x.element_count(); ++i) po[i] = unary_value<T>(op, alpha, beta, px[i]);
    }
  };
  numeric(c, x.type, body);
  return {out};
}

std::vector<Tensor> clip(const Call& c) {
  const Tensor& x = c.need(0);
  Tensor out = same_as(x);
  numeric(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("bool input");
    } else {
      T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
      if (c.opset < 11) {
        lo = static_cast<T>(c.node.attr_float("min", -std::numeric_limits<float>::max()));
        hi = static_cast<T>(c.node.attr_float("max", std::numeric_limits<float>::max()));
      } else {
        if (const Tensor* t = c.opt(1)) lo = static_cast<T>(scalar_of(c, *t));
        if (const Tensor* t = c.opt(2)) hi = static_cast<T>(scalar_of(c, *t));
      }
      const T* px = x.data<T>();
      T* po = out.mutable_data<T>();
      for (int64_t i = 0; i < x.element_count(); ++i) po[i] = std::min(std::max(px[i], lo), hi);
    }
  });
  return {out};
}

// ---- convolution and pooling (1-D and 2-D; 1-D runs as 2-D with height 1) ----

using Window = SpatialWindow;

// Spatial geometry from kernel_shape/strides/dilations/pads/auto_pad/ceil_mode, for `spatial` input dims.
Window window_for(const Call& c, const Shape& spatial, const Shape& kernel) {
  size_t n = spatial.size();
  if (n < 1 || n > 2) c.unsupported_case("{}-D spatial input (1-D and 2-D supported)", n);
  Shape strides = c.node.attr_ints("strides", Shape(n, 1));
  Shape dil = c.node.attr_ints("dilations", Shape(n, 1));
  Shape pads = c.node.attr_ints("pads", Shape(2 * n, 0));
  if (strides.size() != n || dil.size() != n || pads.size() != 2 * n || kernel.size() != n)
    c.invalid("kernel_shape/strides/dilations/pads do not match {} spatial dimensions", n);
  for (size_t i = 0; i < n; ++i)
    if (strides[i] < 1 || dil[i] < 1 || kernel[i] < 1 || pads[i] < 0 || pads[i + n] < 0)
      c.invalid("non-positive kernel, stride or dilation, or negative pad");
  std::string auto_pad = c.node.attr_string("auto_pad", "NOTSET");
  bool ceil_mode = c.node.attr_int("ceil_mode", 0) != 0;
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t dk = (kernel[i] - 1) * dil[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out[i] = (spatial[i] + strides[i] - 1) / strides[i];
      int64_t total = std::max<int64_t>((out[i] - 1) * strides[i] + dk - spatial[i], 0);
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[i + n] = total - pads[i];
    } else if (auto_pad == "VALID") {
      pads[i] = pads[i + n] = 0;
      out[i] = (spatial[i] - dk) / strides[i] + 1;
    } else if (auto_pad == "NOTSET") {
      int64_t span = spatial[i] + pads[i] + pads[i + n] - dk;
      if (span < 0) c.invalid("the kernel is larger than the padded input");
      out[i] = (ceil_mode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
      // As PyTorch and ONNX: the last window must start inside the input or the left padding.
      if (ceil_mode && (out[i] - 1) * strides[i] >= spatial[i] + pads[i]) --out[i];
    } else {
      c.invalid("unknown auto_pad '{}'", auto_pad);
    }
    if (out[i] < 1) c.invalid("the output would be empty");
  }
  Window w;
  if (n == 1) {
    w.kw = kernel[0]; w.sw = strides[0]; w.dw = dil[0]; w.pl = pads[0]; w.pr = pads[1]; w.ow = out[0];
  } else {
    w.kh = kernel[0]; w.kw = kernel[1]; w.sh = strides[0]; w.sw = strides[1]; w.dh = dil[0]; w.dw = dil[1];
    w.pt = pads[0]; w.pl = pads[1]; w.pb = pads[2]; w.pr = pads[3]; w.oh = out[0]; w.ow = out[1];
  }
  return w;
}

Shape spatial_of(const Tensor& x) { return Shape(x.shape.begin() + 2, x.shape.end()); }

Shape pooled_shape(const Tensor& x, const Window& w) {
  Shape out = {x.shape[0], x.shape[1]};
  if (x.shape.size() == 4) out.push_back(w.oh);
  out.push_back(w.ow);
  return out;
}

std::vector<Tensor> conv(const Call& c) {
  const Tensor& x = c.need(0);
  const Tensor& wt = c.need(1);
  const Tensor* bias = c.opt(2);
  if (x.shape.size() < 3 || wt.shape.size() != x.shape.size()) c.invalid("input and weight ranks must match (>= 3)");
  int64_t group = c.node.attr_int("group", 1);
  int64_t N = x.shape[0], C = x.shape[1], M = wt.shape[0], CG = wt.shape[1];
  if (group < 1 || C != CG * group || M % group != 0) c.invalid("channels {} / group {} do not match weights [{}]", C, group, fmt::join(wt.shape, ","));
  Shape kernel = c.node.attr_ints("kernel_shape", Shape(wt.shape.begin() + 2, wt.shape.end()));
  Window w = window_for(c, spatial_of(x), kernel);
  int64_t H = x.shape.size() == 4 ? x.shape[2] : 1, W = x.shape.back();
  if (bias && bias->element_count() != M) c.invalid("bias has {} values for {} output channels", bias->element_count(), M);
  std::string act = c.node.attr_string("_activation", "");
  float alpha = c.node.attr_float("_alpha", 0.0f), beta = c.node.attr_float("_beta", 0.0f);
  const bool residual = c.node.attr_int("_residual", 0) != 0;
  if (residual && !act.empty()) {
    // Exactly the unfused graph: Add(conv, r), then the activation on the sum.
    Node plain = c.node;
    plain.attributes.erase("_activation");
    std::vector<Tensor> sum = run_reference(plain, c.in, c.opset);
    floating(c, sum[0].type, [&](auto tag) {
      using T = decltype(tag);
      T* v = sum[0].template mutable_data<T>();
      for (int64_t i = 0; i < sum[0].element_count(); ++i)
        v[i] = static_cast<T>(activation_value(act, alpha, beta, static_cast<float>(v[i])));
    });
    return sum;
  }
  Shape out_shape = pooled_shape(x, w);
  out_shape[1] = M;
  Tensor out = Tensor::zeros(x.type, out_shape);
  floating(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pw = wt.data<T>();
    T* po = out.mutable_data<T>();
    int64_t MG = M / group;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = 0; m < M; ++m) {
        int64_t g = m / MG;
        for (int64_t oy = 0; oy < w.oh; ++oy)
          for (int64_t ox = 0; ox < w.ow; ++ox) {
            double acc = bias ? static_cast<double>(bias->data<T>()[m]) : 0.0;
            for (int64_t cg = 0; cg < CG; ++cg) {
              const T* xc = px + ((n * C) + g * CG + cg) * H * W;
              const T* wc = pw + (m * CG + cg) * w.kh * w.kw;
              for (int64_t ky = 0; ky < w.kh; ++ky) {
                int64_t iy = oy * w.sh - w.pt + ky * w.dh;
                if (iy < 0 || iy >= H) continue;
                for (int64_t kx = 0; kx < w.kw; ++kx) {
                  int64_t ix = ox * w.sw - w.pl + kx * w.dw;
                  if (ix < 0 || ix >= W) continue;
                  acc += static_cast<double>(xc[iy * W + ix]) * static_cast<double>(wc[ky * w.kw + kx]);
                }
              }
            }
            T v = static_cast<T>(acc);
            if (!act.empty()) v = static_cast<T>(activation_value(act, alpha, beta, static_cast<float>(v)));
            po[((n * M + m) * w.oh + oy) * w.ow + ox] = v;
          }
      }
  });
  if (residual) {
    Node add;
    add.name = c.node.name + "/residual";
    add.op_type = "Add";
    std::vector<const Tensor*> operands = {&out, &c.need(3)};
    return binary(Call{add, operands, c.opset});
  }
  return {out};
}

std::vector<Tensor> pool(const Call& c) {
  const Tensor& x = c.need(0);
  if (x.shape.size() < 3) c.invalid("input must have rank >= 3");
  const std::string& op = c.node.op_type;
  bool global = op.rfind("Global", 0) == 0;
  bool is_max = op == "MaxPool" || op == "GlobalMaxPool";
  if (c.node.outputs.size() > 1 && !c.node.outputs[1].empty()) c.unsupported_case("the Indices output");
  if (c.node.attr_int("storage_order", 0) != 0) c.unsupported_case("storage_order=1");
  Window w;
  int64_t H = x.shape.size() == 4 ? x.shape[2] : 1, W = x.shape.back();
  if (global) {
    if (x.shape.size() > 4) c.unsupported_case("{}-D spatial input", x.shape.size() - 2);
    w.kh = H; w.kw = W;
  } else {
    if (!c.node.has_attr("kernel_shape")) c.invalid("kernel_shape is required");
    if (!is_max && c.node.has_attr("dilations")) {
      for (auto d : c.node.attr_ints("dilations")) if (d != 1) c.unsupported_case("dilated average pooling");
    }
    w = window_for(c, spatial_of(x), c.node.attr_ints("kernel_shape"));
  }
  bool include_pad = c.node.attr_int("count_include_pad", 0) != 0;
  // Fused by nn/passes.h when a 1x1 conv was moved before the pool: its bias and activation apply here.
  std::vector<float> bias;
  if (c.node.attr_int("_bias", 0) != 0) {
    bias = to_float_vector(c.need(1));
    if (static_cast<int64_t>(bias.size()) != x.shape[1]) c.invalid("bias has {} values for {} channels", bias.size(), x.shape[1]);
  }
  const std::string act = c.node.attr_string("_activation", "");
  const float alpha = c.node.attr_float("_alpha", 0.0f), beta = c.node.attr_float("_beta", 0.0f);
  Shape out_shape = pooled_shape(x, w);
  Tensor out = Tensor::zeros(x.type, out_shape);
  int64_t NC = x.shape[0] * x.shape[1];
  floating(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.mutable_data<T>();
    for (int64_t nc = 0; nc < NC; ++nc)
      for (int64_t oy = 0; oy < w.oh; ++oy)
        for (int64_t ox = 0; ox < w.ow; ++ox) {
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t count = 0;
          for (int64_t ky = 0; ky < w.kh; ++ky) {
            int64_t iy = oy * w.sh - w.pt + ky * w.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < w.kw; ++kx) {
              int64_t ix = ox * w.sw - w.pl + kx * w.dw;
              if (ix < 0 || ix >= W) continue;
              double v = px[(nc * H + iy) * W + ix];
              if (is_max) acc = std::max(acc, v);
              else acc += v;
              ++count;
            }
          }
          if (!is_max) {
            if (include_pad) {
              // The window clipped to the padded extent (PyTorch's and ONNX's divisor in ceil mode).
              int64_t y0 = oy * w.sh - w.pt, x0 = ox * w.sw - w.pl;
              int64_t y1 = std::min(y0 + w.kh, H + w.pb), x1 = std::min(x0 + w.kw, W + w.pr);
              count = (y1 - y0) * (x1 - x0);
            }
            acc = count > 0 ? acc / static_cast<double>(count) : 0.0;
          }
          if (!bias.empty()) acc += bias[nc % x.shape[1]];
          if (!act.empty()) acc = activation_value(act, alpha, beta, static_cast<float>(acc));
          po[(nc * w.oh + oy) * w.ow + ox] = static_cast<T>(acc);
        }
  });
  return {out};
}

std::vector<Tensor> batch_norm(const Call& c) {
  const Tensor& x = c.need(0);
  if (c.node.attr_int("training_mode", 0) != 0) c.unsupported_case("training_mode=1");
  if (c.node.outputs.size() > 1) for (size_t i = 1; i < c.node.outputs.size(); ++i) if (!c.node.outputs[i].empty()) c.unsupported_case("training outputs");
  if (c.opset < 7 && c.node.attr_int("spatial", 1) != 1) c.unsupported_case("spatial=0");
  double eps = c.node.attr_float("epsilon", 1e-5f);
  // A Relu fused by nn/passes.h (DenseNet's BN -> ReLU).
  const std::string act = c.node.attr_string("_activation", "");
  if (!act.empty() && act != "Relu") c.unsupported_case("fused activation {}", act);
  const bool relu = act == "Relu";
  if (x.shape.size() < 2) c.invalid("input rank < 2");
  int64_t N = x.shape[0], C = x.shape[1], S = count_of(Shape(x.shape.begin() + 2, x.shape.end()));
  for (size_t i = 1; i <= 4; ++i)
    if (c.need(i).element_count() != C) c.invalid("input {} has {} values for {} channels", i, c.need(i).element_count(), C);
  Tensor out = same_as(x);
  floating(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    const T *scale = c.need(1).data<T>(), *b = c.need(2).data<T>(), *mean = c.need(3).data<T>(), *var = c.need(4).data<T>();
    const T* px = x.data<T>();
    T* po = out.mutable_data<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t ch = 0; ch < C; ++ch) {
        double k = scale[ch] / std::sqrt(static_cast<double>(var[ch]) + eps);
        for (int64_t s = 0; s < S; ++s) {
          int64_t i = (n * C + ch) * S + s;
          double v = (px[i] - mean[ch]) * k + b[ch];
          po[i] = static_cast<T>(relu && v < 0 ? 0.0 : v);
        }
      }
  });
  return {out};
}

std::vector<Tensor> lrn(const Call& c) {
  const Tensor& x = c.need(0);
  int64_t size = c.node.attr_int("size", 0);
  if (size < 1) c.invalid("size must be positive");
  double alpha = c.node.attr_float("alpha", 1e-4f), beta = c.node.attr_float("beta", 0.75f), bias = c.node.attr_float("bias", 1.0f);
  int64_t N = x.shape[0], C = x.shape[1], S = count_of(Shape(x.shape.begin() + 2, x.shape.end()));
  Tensor out = same_as(x);
  floating(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.mutable_data<T>();
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t s = 0; s < S; ++s) {
          double sum = 0;
          for (int64_t k = std::max<int64_t>(0, ch - lo); k <= std::min(C - 1, ch + hi); ++k) {
            double v = px[(n * C + k) * S + s];
            sum += v * v;
          }
          int64_t i = (n * C + ch) * S + s;
          po[i] = static_cast<T>(px[i] / std::pow(bias + alpha / static_cast<double>(size) * sum, beta));
        }
  });
  return {out};
}

// ---- dense ----

std::vector<Tensor> gemm(const Call& c) {
  const Tensor& a = c.need(0);
  const Tensor& b = c.need(1);
  const Tensor* cc = c.opt(2);
  if (a.shape.size() != 2 || b.shape.size() != 2) c.invalid("A and B must be 2-D");
  bool ta = c.node.attr_int("transA", 0) != 0, tb = c.node.attr_int("transB", 0) != 0;
  double alpha = c.node.attr_float("alpha", 1.0f), beta = c.node.attr_float("beta", 1.0f);
  int64_t M = ta ? a.shape[1] : a.shape[0], K = ta ? a.shape[0] : a.shape[1];
  int64_t KB = tb ? b.shape[1] : b.shape[0], N = tb ? b.shape[0] : b.shape[1];
  if (K != KB) c.invalid("inner dimensions differ ({} and {})", K, KB);
  Tensor out = Tensor::zeros(a.type, {M, N});
  Shape cstr;
  if (cc) {
    broadcast_shape(c, cc->shape, {M, N});
    if (cc->shape.size() > 2) c.invalid("C has rank > 2");
    cstr = broadcast_strides(cc->shape, {M, N});
  }
  floating(c, a.type, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.mutable_data<T>();
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += static_cast<double>(ta ? pa[k * M + i] : pa[i * K + k]) * static_cast<double>(tb ? pb[j * K + k] : pb[k * N + j]);
        acc *= alpha;
        if (cc) acc += beta * static_cast<double>(cc->data<T>()[i * cstr[0] + j * cstr[1]]);
        po[i * N + j] = static_cast<T>(acc);
      }
  });
  return {out};
}

std::vector<Tensor> matmul(const Call& c) {
  Shape as = c.need(0).shape, bs = c.need(1).shape;
  const Tensor& a = c.need(0);
  const Tensor& b = c.need(1);
  if (as.empty() || bs.empty()) c.invalid("scalar operands");
  if (a.type != b.type) c.invalid("input types differ");
  bool a1 = as.size() == 1, b1 = bs.size() == 1;
  if (a1) as.insert(as.begin(), 1);
  if (b1) bs.push_back(1);
  int64_t M = as[as.size() - 2], K = as.back(), K2 = bs[bs.size() - 2], N = bs.back();
  if (K != K2) c.invalid("inner dimensions differ ({} and {})", K, K2);
  Shape abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  Shape batch = broadcast_shape(c, abatch, bbatch);
  Shape out_shape = batch;
  if (!a1) out_shape.push_back(M);
  if (!b1) out_shape.push_back(N);
  Tensor out = Tensor::zeros(a.type, out_shape);
  Shape astr = broadcast_strides(abatch, batch), bstr = broadcast_strides(bbatch, batch);
  numeric(c, a.type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("bool input");
    } else {
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* po = out.mutable_data<T>();
      int64_t obatch = 0;
      broadcast_loop<2>(batch, {astr, bstr}, [&](int64_t, const std::array<int64_t, 2>& o) {
        const T* am = pa + o[0] * M * K;
        const T* bm = pb + o[1] * K * N;
        T* om = po + obatch++ * M * N;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
            Acc acc = 0;
            for (int64_t k = 0; k < K; ++k) acc += static_cast<Acc>(am[i * K + k]) * static_cast<Acc>(bm[k * N + j]);
            om[i * N + j] = static_cast<T>(acc);
          }
      });
    }
  });
  return {out};
}

// ---- data movement (type-agnostic: bytes of element_size) ----

Tensor reshaped(const Tensor& x, Shape shape) {
  Tensor t = x;  // shares the bytes: a reshape is a view of the same data
  t.shape = std::move(shape);
  return t;
}

std::vector<Tensor> flatten(const Call& c) {
  const Tensor& x = c.need(0);
  auto rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = c.node.attr_int("axis", 1);
  if (axis < -rank || axis > rank) c.invalid("axis {} out of range", axis);
  if (axis < 0) axis += rank;
  int64_t outer = count_of(Shape(x.shape.begin(), x.shape.begin() + axis));
  return {reshaped(x, {outer, x.element_count() / std::max<int64_t>(outer, 1)})};
}

std::vector<Tensor> reshape(const Call& c) {
  const Tensor& x = c.need(0);
  Shape target;
  if (c.opset < 5) target = c.node.attr_ints("shape");
  else target = ints_of(c, c.need(1));
  bool allowzero = c.node.attr_int("allowzero", 0) != 0;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allowzero) {
      if (i >= x.shape.size()) c.invalid("shape copies dimension {} that the input does not have", i);
      target[i] = x.shape[i];
    }
    if (target[i] == -1) {
      if (infer >= 0) c.invalid("more than one -1 in the shape");
      infer = static_cast<int64_t>(i);
    } else if (target[i] < 0) {
      c.invalid("invalid dimension {}", target[i]);
    } else {
      known *= target[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.element_count() % known != 0) c.invalid("cannot infer -1 for {} elements", x.element_count());
    target[infer] = x.element_count() / known;
  }
  if (count_of(target) != x.element_count())
    c.invalid("cannot reshape [{}] to [{}]", fmt::join(x.shape, ","), fmt::join(target, ","));
  return {reshaped(x, target)};
}

std::vector<int64_t> axes_input_or_attr(const Call& c, size_t input, int64_t since_opset) {
  if (c.opset >= since_opset) {
    const Tensor* t = c.opt(input);
    return t ? ints_of(c, *t) : std::vector<int64_t>{};
  }
  return c.node.attr_ints("axes");
}

std::vector<Tensor> squeeze(const Call& c) {
  const Tensor& x = c.need(0);
  auto rank = static_cast<int64_t>(x.shape.size());
  auto axes = axes_input_or_attr(c, 1, 13);
  std::vector<bool> drop(x.shape.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < x.shape.size(); ++i) drop[i] = x.shape[i] == 1;
  } else {
    for (auto a : axes) {
      int64_t ax = normalize_axis(c, a, rank);
      if (x.shape[ax] != 1) c.invalid("cannot squeeze dimension {} of size {}", ax, x.shape[ax]);
      drop[ax] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < x.shape.size(); ++i) if (!drop[i]) out.push_back(x.shape[i]);
  return {reshaped(x, out)};
}

std::vector<Tensor> unsqueeze(const Call& c) {
  const Tensor& x = c.need(0);
  auto axes = axes_input_or_attr(c, 1, 13);
  auto rank = static_cast<int64_t>(x.shape.size() + axes.size());
  std::vector<bool> inserted(rank, false);
  for (auto a : axes) {
    int64_t ax = normalize_axis(c, a, rank);
    if (inserted[ax]) c.invalid("axis {} repeated", a);
    inserted[ax] = true;
  }
  Shape out;
  size_t j = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : x.shape[j++]);
  return {reshaped(x, out)};
}

std::vector<Tensor> transpose(const Call& c) {
  const Tensor& x = c.need(0);
  size_t rank = x.shape.size();
  Shape perm = c.node.attr_ints("perm");
  if (perm.empty()) for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  if (perm.size() != rank) c.invalid("perm has {} entries for rank {}", perm.size(), rank);
  Shape out_shape(rank), in_strides(rank), strides(rank);
  int64_t s = 1;
  for (size_t i = rank; i-- > 0;) { in_strides[i] = s; s *= x.shape[i]; }
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < rank; ++i) {
    if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(rank) || seen[perm[i]]) c.invalid("invalid perm");
    seen[perm[i]] = true;
    out_shape[i] = x.shape[perm[i]];
    strides[i] = in_strides[perm[i]];
  }
  Tensor out = Tensor::zeros(x.type, out_shape);
  size_t es = element_size(x.type);
  const unsigned char* px = x.bytes->data();
  unsigned char* po = out.bytes->data();
  broadcast_loop<1>(out_shape, {strides}, [&](int64_t i, const std::array<int64_t, 1>& o) {
    std::memcpy(po + i * es, px + o[0] * es, es);
  });
  return {out};
}

std::vector<Tensor> concat(const Call& c) {
  std::vector<const Tensor*> parts;
  for (const Tensor* t : c.in) if (t) parts.push_back(t);
  if (parts.empty()) c.invalid("no inputs");
  const Tensor& first = *parts[0];
  auto rank = static_cast<int64_t>(first.shape.size());
  if (!c.node.has_attr("axis") && c.opset >= 4) c.invalid("axis is required");
  int64_t axis = normalize_axis(c, c.node.attr_int("axis", 1), rank);
  Shape out_shape = first.shape;
  out_shape[axis] = 0;
  for (const Tensor* t : parts) {
    if (t->type != first.type || t->shape.size() != first.shape.size()) c.invalid("inputs differ in type or rank");
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && t->shape[d] != first.shape[d]) c.invalid("inputs differ in dimension {}", d);
    out_shape[axis] += t->shape[axis];
  }
  Tensor out = Tensor::zeros(first.type, out_shape);
  size_t es = element_size(first.type);
  int64_t outer = count_of(Shape(out_shape.begin(), out_shape.begin() + axis));
  int64_t inner = count_of(Shape(out_shape.begin() + axis + 1, out_shape.end())) * static_cast<int64_t>(es);
  int64_t offset = 0;
  for (const Tensor* t : parts) {
    int64_t chunk = t->shape[axis] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out.bytes->data() + (o * out_shape[axis] * inner) + offset, t->bytes->data() + o * chunk, static_cast<size_t>(chunk));
    offset += chunk;
  }
  return {out};
}

std::vector<Tensor> gather(const Call& c) {
  const Tensor& x = c.need(0);
  const Tensor& idx_t = c.need(1);
  auto rank = static_cast<int64_t>(x.shape.size());
  if (rank == 0) c.invalid("data is a scalar");
  int64_t axis = normalize_axis(c, c.node.attr_int("axis", 0), rank);
  auto idx = ints_of(c, idx_t);
  Shape out_shape(x.shape.begin(), x.shape.begin() + axis);
  out_shape.insert(out_shape.end(), idx_t.shape.begin(), idx_t.shape.end());
  out_shape.insert(out_shape.end(), x.shape.begin() + axis + 1, x.shape.end());
  Tensor out = Tensor::zeros(x.type, out_shape);
  auto es = static_cast<int64_t>(element_size(x.type));
  int64_t outer = count_of(Shape(x.shape.begin(), x.shape.begin() + axis));
  int64_t inner = count_of(Shape(x.shape.begin() + axis + 1, x.shape.end())) * es;
  int64_t dim = x.shape[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < idx.size(); ++k) {
      int64_t i = idx[k] < 0 ? idx[k] + dim : idx[k];
      if (i < 0 || i >= dim) c.invalid("index {} out of range [-{}, {})", idx[k], dim, dim);
      std::memcpy(out.bytes->data() + (o * static_cast<int64_t>(idx.size()) + static_cast<int64_t>(k)) * inner,
                  x.bytes->data() + (o * dim + i) * inner, static_cast<size_t>(inner));
    }
  return {out};
}

std::vector<Tensor> pad(const Call& c) {
  const Tensor& x = c.need(0);
  auto rank = static_cast<int64_t>(x.shape.size());
  std::string mode = c.node.attr_string("mode", "constant");
  Shape pads;
  double value = 0;
  if (c.opset < 11) {
    pads = c.node.attr_ints(c.opset < 2 ? "paddings" : "pads");
    value = c.node.attr_float("value", 0.0f);
  } else {
    pads = ints_of(c, c.need(1));
    if (const Tensor* v = c.opt(2)) value = scalar_of(c, *v);
    if (c.opt(3)) c.unsupported_case("the axes input");
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank) c.invalid("pads has {} values for rank {}", pads.size(), rank);
  if (mode != "constant" && mode != "reflect" && mode != "edge") c.unsupported_case("mode '{}'", mode);
  Shape out_shape(rank);
  for (int64_t d = 0; d < rank; ++d) {
    out_shape[d] = x.shape[d] + pads[d] + pads[d + rank];
    if (out_shape[d] < 0) c.invalid("negative output dimension");
    if (mode == "reflect" && (pads[d] >= x.shape[d] || pads[d + rank] >= x.shape[d]) && (pads[d] > 0 || pads[d + rank] > 0))
      c.invalid("reflect padding larger than the input");
    if (mode != "constant" && x.shape[d] == 0 && out_shape[d] > 0) c.invalid("cannot {}-pad an empty dimension", mode);
  }
  Tensor out = Tensor::zeros(x.type, out_shape);
  Shape in_strides(rank);
  int64_t s = 1;
  for (int64_t d = rank; d-- > 0;) { in_strides[d] = s; s *= x.shape[d]; }
  numeric(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.mutable_data<T>();
    Shape idx(rank, 0);
    for (int64_t i = 0; i < count_of(out_shape); ++i) {
      int64_t off = 0;
      bool outside = false;
      for (int64_t d = 0; d < rank; ++d) {
        int64_t j = idx[d] - pads[d], n = x.shape[d];
        if (j < 0 || j >= n) {
          if (mode == "constant") { outside = true; break; }
          if (mode == "edge") j = j < 0 ? 0 : n - 1;
          else j = j < 0 ? -j : 2 * (n - 1) - j;
        }
        off += j * in_strides[d];
      }
      po[i] = outside ? static_cast<T>(value) : px[off];
      for (int64_t d = rank; d-- > 0;) {
        if (++idx[d] < out_shape[d]) break;
        idx[d] = 0;
      }
    }
  });
  return {out};
}

std::vector<Tensor> softmax(const Call& c) {
  const Tensor& x = c.need(0);
  auto rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normalize_axis(c, c.node.attr_int("axis", c.opset >= 13 ? -1 : 1), std::max<int64_t>(rank, 1));
  Tensor out = same_as(x);
  // Before opset 13 the input is coerced to 2-D [outer, inner] at `axis`; from 13 on, softmax runs along `axis`.
  int64_t outer = count_of(Shape(x.shape.begin(), x.shape.begin() + axis));
  int64_t len = c.opset >= 13 ? x.shape[axis] : count_of(Shape(x.shape.begin() + axis, x.shape.end()));
  int64_t inner = c.opset >= 13 ? count_of(Shape(x.shape.begin() + axis + 1, x.shape.end())) : 1;
  floating(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.mutable_data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        auto at = [&](int64_t k) { return (o * len + k) * inner + in; };
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < len; ++k) mx = std::max(mx, static_cast<double>(px[at(k)]));
        double sum = 0;
        for (int64_t k = 0; k < len; ++k) sum += std::exp(px[at(k)] - mx);
        for (int64_t k = 0; k < len; ++k) po[at(k)] = static_cast<T>(std::exp(px[at(k)] - mx) / sum);
      }
  });
  return {out};
}

std::vector<Tensor> reduce_mean(const Call& c) {
  const Tensor& x = c.need(0);
  auto rank = static_cast<int64_t>(x.shape.size());
  auto axes = axes_input_or_attr(c, 1, 18);
  bool keepdims = c.node.attr_int("keepdims", 1) != 0;
  bool noop = c.node.attr_int("noop_with_empty_axes", 0) != 0;
  std::vector<bool> reduce(rank, axes.empty() && !noop);
  for (auto a : axes) reduce[normalize_axis(c, a, rank)] = true;
  Shape out_shape, kept_shape(rank);
  for (int64_t d = 0; d < rank; ++d) {
    kept_shape[d] = reduce[d] ? 1 : x.shape[d];
    if (!reduce[d] || keepdims) out_shape.push_back(kept_shape[d]);
  }
  Tensor out = Tensor::zeros(x.type, out_shape);
  Shape strides = broadcast_strides(kept_shape, x.shape);
  int64_t group = x.element_count() / std::max<int64_t>(count_of(kept_shape), 1);
  floating(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> acc(static_cast<size_t>(count_of(kept_shape)), 0.0);
    const T* px = x.data<T>();
    broadcast_loop<1>(x.shape, {strides}, [&](int64_t i, const std::array<int64_t, 1>& o) { acc[o[0]] += px[i]; });
    T* po = out.mutable_data<T>();
    for (size_t i = 0; i < acc.size(); ++i) po[i] = static_cast<T>(group ? acc[i] / static_cast<double>(group) : std::nan(""));
  });
  return {out};
}

// ---- type and shape ----

std::vector<Tensor> cast(const Call& c) {
  const Tensor& x = c.need(0);
  int64_t to = c.node.attr_int("to", 0);
  DataType type;
  switch (to) {
    case 1: type = DataType::float32; break;
    case 2: type = DataType::uint8; break;
    case 3: type = DataType::int8; break;
    case 6: type = DataType::int32; break;
    case 7: type = DataType::int64; break;
    case 9: type = DataType::boolean; break;
    case 10: type = DataType::float16; break;
    case 11: type = DataType::float64; break;
    case 16: type = DataType::bfloat16; break;
    default: c.unsupported_case("cast to ONNX type {}", to);
  }
  Tensor out = Tensor::zeros(type, x.shape);
  int64_t n = x.element_count();
  // Through double: exact for every source type here except int64 beyond 2^53, which no CNN shape reaches.
  std::vector<double> v(static_cast<size_t>(n));
  if (x.type == DataType::float16) for (int64_t i = 0; i < n; ++i) v[i] = half_to_float(x.data<uint16_t>()[i]);
  else if (x.type == DataType::bfloat16) for (int64_t i = 0; i < n; ++i) v[i] = bfloat16_to_float(x.data<uint16_t>()[i]);
  else if (x.type == DataType::int64 && type == DataType::int64) return {x};
  else numeric(c, x.type, [&](auto tag) { for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(x.data<decltype(tag)>()[i]); });
  if (type == DataType::float16) for (int64_t i = 0; i < n; ++i) out.mutable_data<uint16_t>()[i] = float_to_half(static_cast<float>(v[i]));
  else if (type == DataType::bfloat16) for (int64_t i = 0; i < n; ++i) out.mutable_data<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(v[i]));
  else if (type == DataType::boolean) for (int64_t i = 0; i < n; ++i) out.mutable_data<bool>()[i] = v[i] != 0;
  else numeric(c, type, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) out.mutable_data<T>()[i] = static_cast<T>(v[i]);
  });
  return {out};
}

std::vector<Tensor> shape_of(const Call& c) {
  const Tensor& x = c.need(0);
  auto rank = static_cast<int64_t>(x.shape.size());
  int64_t start = c.node.attr_int("start", 0), end = c.node.attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  Tensor out = Tensor::zeros(DataType::int64, {end - start});
  for (int64_t i = start; i < end; ++i) out.mutable_data<int64_t>()[i - start] = x.shape[i];
  return {out};
}

std::vector<Tensor> constant(const Call& c) {
  const Node& n = c.node;
  if (const Tensor* t = n.attr_tensor("value")) return {*t};
  if (n.has_attr("value_float")) {
    Tensor t = Tensor::zeros(DataType::float32, {});
    t.mutable_data<float>()[0] = n.attr_float("value_float", 0);
    return {t};
  }
  if (n.has_attr("value_int")) {
    Tensor t = Tensor::zeros(DataType::int64, {});
    t.mutable_data<int64_t>()[0] = n.attr_int("value_int", 0);
    return {t};
  }
  if (n.has_attr("value_floats")) {
    auto v = n.attr_floats("value_floats");
    Tensor t = Tensor::zeros(DataType::float32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.mutable_data<float>());
    return {t};
  }
  if (n.has_attr("value_ints")) {
    auto v = n.attr_ints("value_ints");
    Tensor t = Tensor::zeros(DataType::int64, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.mutable_data<int64_t>());
    return {t};
  }
  c.unsupported_case("a constant that is not a numeric tensor");
}

std::vector<Tensor> dropout(const Call& c) {
  const Tensor& x = c.need(0);
  if (c.opset >= 12) {
    if (const Tensor* t = c.opt(2); t && scalar_of(c, *t) != 0) c.unsupported_case("training_mode=true");
  } else if (c.node.attr_int("is_test", 1) == 0 && c.opset < 7) {
    c.unsupported_case("is_test=0");
  }
  std::vector<Tensor> out = {x};
  if (c.node.outputs.size() > 1) {
    Tensor mask = Tensor::zeros(DataType::boolean, x.shape);
    std::fill(mask.bytes->begin(), mask.bytes->end(), static_cast<unsigned char>(1));
    out.push_back(mask);
  }
  return out;
}

}  // namespace

const std::vector<std::string>& supported_ops() { return kSupported; }

bool is_supported_op(const std::string& op_type) {
  return std::find(kSupported.begin(), kSupported.end(), op_type) != kSupported.end();
}

float apply_activation(const std::string& activation, float alpha, float beta, float x) {
  return activation_value(activation, alpha, beta, x);
}

SpatialWindow spatial_window(const Node& node, int64_t opset, const std::vector<int64_t>& spatial,
                             const std::vector<int64_t>& kernel) {
  std::vector<const Tensor*> none;
  return window_for(Call{node, none, opset}, spatial, kernel);
}

std::vector<Tensor> run_reference(const Node& node, const std::vector<const Tensor*>& inputs, int64_t opset) {
  Call c{node, inputs, opset};
  const std::string& op = node.op_type;
  if (op == "Conv") return conv(c);
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GlobalMaxPool") return pool(c);
  if (op == "BatchNormalization") return batch_norm(c);
  if (op == "Relu" || op == "LeakyRelu" || op == "Sigmoid" || op == "Tanh" || op == "HardSigmoid" || op == "HardSwish") return unary(c);
  if (op == "Clip") return clip(c);
  if (op == "LRN") return lrn(c);
  if (op == "Concat") return concat(c);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return binary(c);
  if (op == "Gemm") return gemm(c);
  if (op == "MatMul") return matmul(c);
  if (op == "Flatten") return flatten(c);
  if (op == "Reshape") return reshape(c);
  if (op == "Transpose") return transpose(c);
  if (op == "Squeeze") return squeeze(c);
  if (op == "Unsqueeze") return unsqueeze(c);
  if (op == "Pad") return pad(c);
  if (op == "Softmax") return softmax(c);
  if (op == "ReduceMean") return reduce_mean(c);
  if (op == "Dropout") return dropout(c);
  if (op == "Identity") return {c.need(0)};
  if (op == "Constant") return constant(c);
  if (op == "Shape") return shape_of(c);
  if (op == "Gather") return gather(c);
  if (op == "Cast") return cast(c);
  unsupported("node '{}': operator {} (opset {}) is not supported by the engine", node.name, op, opset);
}

std::vector<float> to_float_vector(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.element_count()));
  switch (t.type) {
    case DataType::float32: std::copy_n(t.data<float>(), v.size(), v.begin()); break;
    case DataType::float64: std::copy_n(t.data<double>(), v.size(), v.begin()); break;
    case DataType::float16: for (size_t i = 0; i < v.size(); ++i) v[i] = half_to_float(t.data<uint16_t>()[i]); break;
    case DataType::bfloat16: for (size_t i = 0; i < v.size(); ++i) v[i] = bfloat16_to_float(t.data<uint16_t>()[i]); break;
    case DataType::int8: std::copy_n(t.data<int8_t>(), v.size(), v.begin()); break;
    case DataType::uint8: std::copy_n(t.data<uint8_t>(), v.size(), v.begin()); break;
    case DataType::boolean: std::copy_n(t.data<uint8_t>(), v.size(), v.begin()); break;
    case DataType::int32: std::copy_n(t.data<int32_t>(), v.size(), v.begin()); break;
    case DataType::int64: std::copy_n(t.data<int64_t>(), v.size(), v.begin()); break;
  }
  return v;
}

Tensor make_float_tensor(std::vector<int64_t> shape, const float* data) {
  Tensor t = Tensor::zeros(DataType::float32, std::move(shape));
  std::copy_n(data, t.element_count(), t.mutable_data<float>());
  return t;
}

}  // namespace xfer::nn
