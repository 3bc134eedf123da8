// Elementwise reference kernels: numpy-broadcast arithmetic, activations, Clip.
#include "nn/reference/common.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace xfer::nn::reference {

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

namespace {

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

}  // namespace

std::vector<KernelEntry> elementwise_kernels() {
  return {
      {"Add", binary}, {"Sub", binary}, {"Mul", binary}, {"Div", binary},
      {"Relu", unary}, {"LeakyRelu", unary}, {"Sigmoid", unary}, {"Tanh", unary}, {"HardSigmoid", unary},
      {"HardSwish", unary}, {"Clip", clip},
  };
}

}  // namespace xfer::nn::reference
