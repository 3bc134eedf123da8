// Elementwise reference kernels: numpy-broadcast arithmetic, comparisons and logic, Where, activations and
// unary math, Clip.
#include "nn/reference/common.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace xfer::nn::reference {

std::vector<Tensor> binary(const Call& c) {
  const Tensor& a = c.need(0);
  const Tensor& b = c.need(1);
  if (c.node.has_attr("broadcast") || c.node.has_attr("axis")) c.unsupported_case("legacy broadcast attributes");
  if (a.type != b.type) c.invalid("input types differ ({} and {})", to_string(a.type), to_string(b.type));
  Shape out_shape = broadcast_shape(c, a.shape, b.shape);
  Tensor out = new_output(c, a.type, out_shape);
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
  if (act == "Swish") return x / (1.0f + std::exp(-x));
  if (act == "Gelu") return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
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
    if (op == "Swish") return x / (T(1) + std::exp(-x));  // internal: folded from x * Sigmoid(x)
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


// Float-only unary math, the function chosen once per call.
std::vector<Tensor> math(const Call& c) {
  const Tensor& x = c.need(0);
  Tensor out = same_as(x);
  const std::string& op = c.node.op_type;
  floating(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.mutable_data<T>();
    auto run = [&](auto fn) { for (int64_t i = 0; i < x.element_count(); ++i) po[i] = static_cast<T>(fn(px[i])); };
    if (op == "Erf") run([](T v) { return std::erf(v); });
    else if (op == "Sqrt") run([](T v) { return std::sqrt(v); });
    else if (op == "Exp") run([](T v) { return std::exp(v); });
    else if (op == "Log") run([](T v) { return std::log(v); });
    else if (op == "Reciprocal") run([](T v) { return T(1) / v; });
    else if (op == "Floor") run([](T v) { return std::floor(v); });
    else if (op == "Ceil") run([](T v) { return std::ceil(v); });
    else if (op == "Softplus") run([](T v) { return std::log1p(std::exp(-std::abs(v))) + std::max(v, T(0)); });
    else if (op == "Gelu" && c.node.attr_string("approximate", "none") == "tanh")
      run([](T v) { return T(0.5) * v * (T(1) + std::tanh(std::sqrt(T(2) / T(M_PI)) * (v + T(0.044715) * v * v * v))); });
    else if (op == "Gelu" && c.node.attr_string("approximate", "none") == "none")
      run([](T v) { return T(0.5) * v * (T(1) + std::erf(v / std::sqrt(T(2)))); });
    else c.unsupported_case("operator {}", op);
  });
  return {out};
}

// Neg and Abs on any signed numeric type, Sign too.
std::vector<Tensor> signed_unary(const Call& c) {
  const Tensor& x = c.need(0);
  Tensor out = same_as(x);
  const std::string& op = c.node.op_type;
  numeric(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("bool input");
    } else {
      const T* px = x.data<T>();
      T* po = out.mutable_data<T>();
      for (int64_t i = 0; i < x.element_count(); ++i) {
        T v = px[i];
        if (op == "Neg") po[i] = static_cast<T>(-v);
        else if (op == "Abs") po[i] = v < T(0) ? static_cast<T>(-v) : v;
        else po[i] = static_cast<T>(v > T(0) ? 1 : v < T(0) ? -1 : 0);
      }
    }
  });
  return {out};
}

std::vector<Tensor> logical_not(const Call& c) {
  const Tensor& x = c.need(0);
  if (x.type != DataType::boolean) c.invalid("input must be bool, got {}", to_string(x.type));
  Tensor out = same_as(x);
  for (int64_t i = 0; i < x.element_count(); ++i) out.mutable_data<bool>()[i] = !x.data<bool>()[i];
  return {out};
}

// Calls f(po, pa, pb, i, oa, ob) for every element of the numpy broadcast of a and b, typed by the inputs.
template <typename Out, typename A, typename B, typename F>
void broadcast_binary(const Tensor& a, const Tensor& b, Tensor& out, F&& f) {
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  Out* po = out.mutable_data<Out>();
  std::array<Shape, 2> strides{broadcast_strides(a.shape, out.shape), broadcast_strides(b.shape, out.shape)};
  broadcast_loop<2>(out.shape, strides, [&](int64_t i, const std::array<int64_t, 2>& o) { po[i] = f(pa[o[0]], pb[o[1]]); });
}

// Equal, Less, Greater, LessOrEqual, GreaterOrEqual: bool results of same-typed inputs.
std::vector<Tensor> compare(const Call& c) {
  const Tensor& a = c.need(0);
  const Tensor& b = c.need(1);
  if (a.type != b.type) c.invalid("input types differ ({} and {})", to_string(a.type), to_string(b.type));
  Tensor out = new_output(c, DataType::boolean, broadcast_shape(c, a.shape, b.shape));
  const std::string& op = c.node.op_type;
  numeric(c, a.type, [&](auto tag) {
    using T = decltype(tag);
    auto run = [&](auto fn) { broadcast_binary<bool, T, T>(a, b, out, fn); };
    if (op == "Equal") run([](T x, T y) { return x == y; });
    else if (op == "Less") run([](T x, T y) { return x < y; });
    else if (op == "Greater") run([](T x, T y) { return x > y; });
    else if (op == "LessOrEqual") run([](T x, T y) { return x <= y; });
    else run([](T x, T y) { return x >= y; });
  });
  return {out};
}

std::vector<Tensor> logical(const Call& c) {
  const Tensor& a = c.need(0);
  const Tensor& b = c.need(1);
  if (a.type != DataType::boolean || b.type != DataType::boolean) c.invalid("inputs must be bool");
  Tensor out = new_output(c, DataType::boolean, broadcast_shape(c, a.shape, b.shape));
  const std::string& op = c.node.op_type;
  if (op == "And") broadcast_binary<bool, bool, bool>(a, b, out, [](bool x, bool y) { return x && y; });
  else if (op == "Or") broadcast_binary<bool, bool, bool>(a, b, out, [](bool x, bool y) { return x || y; });
  else broadcast_binary<bool, bool, bool>(a, b, out, [](bool x, bool y) { return x != y; });
  return {out};
}

// Pow: the base's type; the exponent may be of another numeric type (opset 12 on).
std::vector<Tensor> power(const Call& c) {
  const Tensor& a = c.need(0);
  const Tensor& b = c.need(1);
  Tensor out = new_output(c, a.type, broadcast_shape(c, a.shape, b.shape));
  numeric(c, a.type, [&](auto base_tag) {
    using A = decltype(base_tag);
    if constexpr (std::is_same_v<A, bool>) {
      c.unsupported_case("bool base");
    } else {
      numeric(c, b.type, [&](auto exp_tag) {
        using B = decltype(exp_tag);
        if constexpr (std::is_same_v<B, bool>) {
          c.unsupported_case("bool exponent");
        } else {
          broadcast_binary<A, A, B>(a, b, out, [](A x, B y) {
            // x*x for the exponent 2 (LayerNorm written out): exact, as every runtime computes it.
            if (static_cast<double>(y) == 2.0) return static_cast<A>(x * x);
            return static_cast<A>(std::pow(static_cast<double>(x), static_cast<double>(y)));
          });
        }
      });
    }
  });
  return {out};
}

// Mod: fmod=0 takes the divisor's sign (Python's %), fmod=1 the dividend's (C's fmod).
std::vector<Tensor> mod(const Call& c) {
  const Tensor& a = c.need(0);
  const Tensor& b = c.need(1);
  if (a.type != b.type) c.invalid("input types differ ({} and {})", to_string(a.type), to_string(b.type));
  bool fmod = c.node.attr_int("fmod", 0) != 0;
  Tensor out = new_output(c, a.type, broadcast_shape(c, a.shape, b.shape));
  numeric(c, a.type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("bool inputs");
    } else {
      broadcast_binary<T, T, T>(a, b, out, [&](T x, T y) -> T {
        if constexpr (std::is_integral_v<T>) {
          if (y == 0) c.invalid("integer modulo by zero");
          T r = static_cast<T>(x % y);
          if (!fmod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
          return r;
        } else {
          T r = std::fmod(x, y);
          if (!fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
          return r;
        }
      });
    }
  });
  return {out};
}

std::vector<Tensor> where(const Call& c) {
  const Tensor& cond = c.need(0);
  const Tensor& x = c.need(1);
  const Tensor& y = c.need(2);
  if (cond.type != DataType::boolean) c.invalid("condition must be bool, got {}", to_string(cond.type));
  if (x.type != y.type) c.invalid("X and Y types differ ({} and {})", to_string(x.type), to_string(y.type));
  Shape shape = broadcast_shape(c, broadcast_shape(c, cond.shape, x.shape), y.shape);
  Tensor out = new_output(c, x.type, shape);
  const size_t es = element_size(x.type);
  std::array<Shape, 3> strides{broadcast_strides(cond.shape, shape), broadcast_strides(x.shape, shape),
                               broadcast_strides(y.shape, shape)};
  const bool* pc = cond.data<bool>();
  broadcast_loop<3>(shape, strides, [&](int64_t i, const std::array<int64_t, 3>& o) {
    const unsigned char* from = pc[o[0]] ? x.bytes->data() + o[1] * es : y.bytes->data() + o[2] * es;
    std::memcpy(out.bytes->data() + i * es, from, es);
  });
  return {out};
}

// Min, Max, Sum, Mean of any number of inputs, numpy-broadcast.
std::vector<Tensor> variadic(const Call& c) {
  std::vector<const Tensor*> parts;
  for (const Tensor* t : c.in) if (t) parts.push_back(t);
  if (parts.empty()) c.invalid("no inputs");
  const std::string& op = c.node.op_type;
  Tensor acc = same_as(*parts[0]);  // a copy: Mean divides it in place
  std::memcpy(acc.bytes->data(), parts[0]->bytes->data(), acc.bytes->size());
  for (size_t k = 1; k < parts.size(); ++k) {
    const Tensor& b = *parts[k];
    if (b.type != acc.type) c.invalid("input types differ ({} and {})", to_string(acc.type), to_string(b.type));
    Tensor out = new_output(c, acc.type, broadcast_shape(c, acc.shape, b.shape));
    numeric(c, acc.type, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        c.unsupported_case("bool inputs");
      } else {
        if (op == "Max") broadcast_binary<T, T, T>(acc, b, out, [](T x, T y) { return std::isnan(static_cast<double>(x)) ? x : std::max(x, y); });
        else if (op == "Min") broadcast_binary<T, T, T>(acc, b, out, [](T x, T y) { return std::isnan(static_cast<double>(x)) ? x : std::min(x, y); });
        else broadcast_binary<T, T, T>(acc, b, out, [](T x, T y) { return static_cast<T>(x + y); });
      }
    });
    acc = std::move(out);
  }
  if (op == "Mean") {
    floating(c, acc.type, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t i = 0; i < acc.element_count(); ++i) acc.mutable_data<T>()[i] /= static_cast<T>(parts.size());
    });
  }
  return {acc};
}

}  // namespace

std::vector<KernelEntry> elementwise_kernels() {
  return {
      {"Add", binary}, {"Sub", binary}, {"Mul", binary}, {"Div", binary},
      {"Relu", unary}, {"LeakyRelu", unary}, {"Sigmoid", unary}, {"Tanh", unary}, {"HardSigmoid", unary},
      {"HardSwish", unary}, {"Swish", unary}, {"Clip", clip},
      {"Erf", math}, {"Sqrt", math}, {"Exp", math}, {"Log", math}, {"Reciprocal", math}, {"Floor", math},
      {"Ceil", math}, {"Softplus", math}, {"Gelu", math}, {"Neg", signed_unary}, {"Abs", signed_unary}, {"Sign", signed_unary},
      {"Not", logical_not}, {"Equal", compare}, {"Less", compare}, {"Greater", compare},
      {"LessOrEqual", compare}, {"GreaterOrEqual", compare}, {"And", logical}, {"Or", logical}, {"Xor", logical},
      {"Pow", power}, {"Mod", mod}, {"Where", where}, {"Min", variadic}, {"Max", variadic}, {"Sum", variadic},
      {"Mean", variadic},
  };
}

}  // namespace xfer::nn::reference
