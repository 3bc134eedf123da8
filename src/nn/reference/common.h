#pragma once
// What the reference kernels share (internal to nn/): the call a kernel receives, type dispatch, broadcasting,
// and each op family's kernel table. The families live one per file (convolution, elementwise, reductions,
// attention, shape); nn/reference_ops.cpp joins their tables into the engine's one list of operators.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "nn/errors.h"
#include "nn/graph.h"
#include "nn/reference_ops.h"

namespace xfer::nn::reference {

using Shape = std::vector<int64_t>;

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

inline int64_t count_of(const Shape& s) {
  int64_t c = 1;
  for (auto d : s) c *= d;
  return c;
}

inline int64_t normalize_axis(const Call& c, int64_t axis, int64_t rank) {
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

inline std::vector<int64_t> ints_of(const Call& c, const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.element_count()));
  if (t.type == DataType::int64) std::copy_n(t.data<int64_t>(), v.size(), v.begin());
  else if (t.type == DataType::int32) std::copy_n(t.data<int32_t>(), v.size(), v.begin());
  else c.invalid("expected an int32/int64 tensor, got {}", to_string(t.type));
  return v;
}

inline double scalar_of(const Call& c, const Tensor& t) {
  if (t.element_count() != 1) c.invalid("expected a scalar, got {} values", t.element_count());
  double v = 0;
  numeric(c, t.type, [&](auto tag) { v = static_cast<double>(t.data<decltype(tag)>()[0]); });
  return v;
}

inline Tensor same_as(const Tensor& x) { return Tensor::zeros(x.type, x.shape); }

// Element strides of `shape` inside a broadcast to `out` (0 along broadcast dimensions).
inline Shape broadcast_strides(const Shape& shape, const Shape& out) {
  Shape strides(out.size(), 0);
  int64_t s = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    size_t oi = out.size() - 1 - i, si = shape.size() - 1 - i;
    strides[oi] = shape[si] == 1 ? 0 : s;
    s *= shape[si];
  }
  return strides;
}

inline Shape broadcast_shape(const Call& c, const Shape& a, const Shape& b) {
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

// The most elements a kernel allocates for one output (16 G values: 64 GB of float32, far beyond any model here).
// Shapes computed from a file's numbers (Range, Expand, ConstantOfShape, Tile) are checked against it before
// anything is allocated, so a hostile file gets a clear error instead of an allocation failure or an overflow.
constexpr int64_t kMaxOutputElements = int64_t{1} << 34;

inline int64_t checked_count(const Call& c, const Shape& shape) {
  int64_t count = 1;
  for (auto d : shape) {
    if (d < 0) c.invalid("negative dimension {} in output shape [{}]", d, fmt::join(shape, ","));
    if (d != 0 && count > kMaxOutputElements / d)
      c.invalid("output shape [{}] has more than 2^34 elements", fmt::join(shape, ","));
    count *= d;
  }
  return count;
}

// A zero-filled output tensor, its size checked first.
inline Tensor new_output(const Call& c, DataType type, const Shape& shape) {
  checked_count(c, shape);
  return Tensor::zeros(type, shape);
}

inline Tensor reshaped(const Tensor& x, Shape shape) {
  Tensor t = x;  // shares the bytes: a reshape is a view of the same data
  t.shape = std::move(shape);
  return t;
}

// The axes of Squeeze/Unsqueeze/Reduce*: an attribute before `since_opset`, input `input` from it on.
inline std::vector<int64_t> axes_input_or_attr(const Call& c, size_t input, int64_t since_opset) {
  if (c.opset >= since_opset) {
    const Tensor* t = c.opt(input);
    return t ? ints_of(c, *t) : std::vector<int64_t>{};
  }
  return c.node.attr_ints("axes");
}

using Kernel = std::vector<Tensor> (*)(const Call&);
struct KernelEntry {
  const char* op_type;
  Kernel run;
};

// Each family's operators (one file each).
std::vector<KernelEntry> convolution_kernels();
std::vector<KernelEntry> elementwise_kernels();
std::vector<KernelEntry> reduction_kernels();
std::vector<KernelEntry> attention_kernels();
std::vector<KernelEntry> shape_kernels();

// Shared across families: numpy-broadcast Add/Sub/Mul/Div (a conv's fused residual), the fusable activations,
// and conv/pool window geometry.
std::vector<Tensor> binary(const Call& c);
float activation_value(const std::string& act, float alpha, float beta, float x);
SpatialWindow window_for(const Call& c, const Shape& spatial, const Shape& kernel);
SliceWindow slice_window(const Call& c, const Shape& shape);

}  // namespace xfer::nn::reference
