// Data-movement and shape reference kernels (type-agnostic where they only move bytes), constants and casts.
#include "nn/reference/common.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "nn/float16.h"

namespace xfer::nn::reference {

namespace {

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

// Copies the elements of x at start[d] + i * step[d] (i < out_shape[d]) into a new tensor of out_shape: the strided
// view behind Slice. Rows along the last axis with step 1 are copied whole.
Tensor strided_copy(const Call& c, const Tensor& x, const Shape& start, const Shape& step, const Shape& out_shape) {
  Tensor out = new_output(c, x.type, out_shape);
  const auto rank = out_shape.size();
  if (out.element_count() == 0) return out;
  const auto es = static_cast<int64_t>(element_size(x.type));
  Shape in_strides(rank);
  int64_t s = 1;
  for (size_t d = rank; d-- > 0;) { in_strides[d] = s; s *= x.shape[d]; }
  if (rank == 0) {
    std::memcpy(out.bytes->data(), x.bytes->data(), static_cast<size_t>(es));
    return out;
  }
  const bool rows = step[rank - 1] == 1;
  const int64_t row = rows ? out_shape[rank - 1] : 1;
  const int64_t count = out.element_count() / row;
  Shape idx(rank, 0);
  unsigned char* po = out.bytes->data();
  for (int64_t n = 0; n < count; ++n) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (start[d] + idx[d] * step[d]) * in_strides[d];
    std::memcpy(po + n * row * es, x.bytes->data() + off * es, static_cast<size_t>(row * es));
    for (size_t d = rows ? rank - 1 : rank; d-- > 0;) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace

SliceWindow slice_window(const Call& c, const Shape& shape) {
  auto rank = static_cast<int64_t>(shape.size());
  Shape starts, ends, axes, steps;
  if (c.opset < 10) {
    starts = c.node.attr_ints("starts");
    ends = c.node.attr_ints("ends");
    axes = c.node.attr_ints("axes");
  } else {
    starts = ints_of(c, c.need(1));
    ends = ints_of(c, c.need(2));
    if (const Tensor* t = c.opt(3)) axes = ints_of(c, *t);
    if (const Tensor* t = c.opt(4)) steps = ints_of(c, *t);
  }
  if (starts.size() != ends.size()) c.invalid("starts has {} values, ends {}", starts.size(), ends.size());
  if (axes.empty()) for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    c.invalid("starts, ends, axes and steps must have the same length");
  Shape start(rank, 0), step(rank, 1), out_shape = shape;
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = normalize_axis(c, axes[i], rank);
    if (seen[a]) c.invalid("axis {} repeated", axes[i]);
    seen[a] = true;
    const int64_t dim = shape[a], st = steps[i];
    if (st == 0) c.invalid("step 0 on axis {}", axes[i]);
    // Clamped before any arithmetic, so INT64_MIN/INT64_MAX ("to the end") cannot overflow.
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b = b < -dim ? -1 : b + dim;
    if (e < 0) e = e < -dim ? -1 : e + dim;
    int64_t n;
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      n = e > b ? (e - b - 1) / st + 1 : 0;
    } else {
      b = std::clamp<int64_t>(b, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      const int64_t down = st == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -st;
      n = b > e ? (b - e - 1) / down + 1 : 0;
    }
    start[a] = n > 0 ? b : 0;
    step[a] = st;
    out_shape[a] = n;
  }
  return {start, step, out_shape};
}

namespace {

std::vector<Tensor> slice(const Call& c) {
  const Tensor& x = c.need(0);
  const SliceWindow w = slice_window(c, x.shape);
  return {strided_copy(c, x, w.start, w.step, w.shape)};
}

std::vector<Tensor> split(const Call& c) {
  const Tensor& x = c.need(0);
  auto rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normalize_axis(c, c.node.attr_int("axis", 0), rank);
  const auto n = static_cast<int64_t>(c.node.outputs.size());
  const int64_t dim = x.shape[axis];
  Shape sizes;
  if (c.opset >= 13) {
    if (const Tensor* t = c.opt(1)) sizes = ints_of(c, *t);
  } else {
    sizes = c.node.attr_ints("split");
  }
  if (sizes.empty()) {
    if (c.opset >= 18 && c.node.has_attr("num_outputs")) {
      int64_t parts = c.node.attr_int("num_outputs", n);
      if (parts != n || parts < 1) c.invalid("num_outputs {} for {} outputs", parts, n);
      int64_t chunk = (dim + parts - 1) / parts;
      for (int64_t i = 0; i < parts; ++i) sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
    } else {
      if (n < 1 || dim % n != 0) c.invalid("axis {} of size {} does not split into {} equal parts", axis, dim, n);
      sizes.assign(static_cast<size_t>(n), dim / n);
    }
  }
  if (static_cast<int64_t>(sizes.size()) != n) c.invalid("split has {} sizes for {} outputs", sizes.size(), n);
  int64_t total = 0;
  for (auto v : sizes) {
    if (v < 0) c.invalid("negative split size {}", v);
    total += v;
  }
  if (total != dim) c.invalid("split sizes add up to {}, the axis has {}", total, dim);
  std::vector<Tensor> outs;
  Shape start(rank, 0), step(rank, 1);
  for (auto v : sizes) {
    Shape shape = x.shape;
    shape[axis] = v;
    outs.push_back(strided_copy(c, x, start, step, shape));
    start[axis] += v;
  }
  return outs;
}

// The bidirectional broadcast of x to `shape` (Expand), or x repeated (Tile).
std::vector<Tensor> expand(const Call& c) {
  const Tensor& x = c.need(0);
  Shape target = ints_of(c, c.need(1));
  Shape out_shape = broadcast_shape(c, x.shape, target);
  Tensor out = new_output(c, x.type, out_shape);
  const size_t es = element_size(x.type);
  broadcast_loop<1>(out_shape, {broadcast_strides(x.shape, out_shape)}, [&](int64_t i, const std::array<int64_t, 1>& o) {
    std::memcpy(out.bytes->data() + i * es, x.bytes->data() + o[0] * es, es);
  });
  return {out};
}

std::vector<Tensor> tile(const Call& c) {
  const Tensor& x = c.need(0);
  Shape repeats = ints_of(c, c.need(1));
  if (repeats.size() != x.shape.size()) c.invalid("{} repeats for rank {}", repeats.size(), x.shape.size());
  Shape out_shape(x.shape.size());
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (repeats[d] < 0) c.invalid("negative repeat {}", repeats[d]);
    if (x.shape[d] != 0 && repeats[d] > kMaxOutputElements / x.shape[d]) c.invalid("repeats make an absurd shape");
    out_shape[d] = x.shape[d] * repeats[d];
  }
  Tensor out = new_output(c, x.type, out_shape);
  const size_t es = element_size(x.type);
  const auto rank = out_shape.size();
  Shape idx(rank, 0), in_strides(rank);
  int64_t s = 1;
  for (size_t d = rank; d-- > 0;) { in_strides[d] = s; s *= x.shape[d]; }
  for (int64_t i = 0; i < out.element_count(); ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (idx[d] % x.shape[d]) * in_strides[d];
    std::memcpy(out.bytes->data() + i * es, x.bytes->data() + off * es, es);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
  return {out};
}

std::vector<Tensor> range(const Call& c) {
  const Tensor& start_t = c.need(0);
  const Tensor& limit_t = c.need(1);
  const Tensor& delta_t = c.need(2);
  if (start_t.type != limit_t.type || start_t.type != delta_t.type) c.invalid("start, limit and delta types differ");
  Tensor out;
  numeric(c, start_t.type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("bool range");
    } else {
      if (start_t.element_count() != 1 || limit_t.element_count() != 1 || delta_t.element_count() != 1)
        c.invalid("start, limit and delta must be scalars");
      const T start = start_t.data<T>()[0], limit = limit_t.data<T>()[0], delta = delta_t.data<T>()[0];
      if (delta == T(0)) c.invalid("delta is 0");
      // The count in long double: (limit - start) of two int64 extremes does not overflow there.
      long double span = (static_cast<long double>(limit) - static_cast<long double>(start)) / static_cast<long double>(delta);
      long double n = std::max<long double>(std::ceil(span), 0.0L);
      if (!(n <= static_cast<long double>(kMaxOutputElements)))
        c.invalid("start {}, limit {} and delta {} make {} values (at most 2^34)", static_cast<double>(start),
                  static_cast<double>(limit), static_cast<double>(delta), static_cast<double>(n));
      out = new_output(c, start_t.type, {static_cast<int64_t>(n)});
      T* po = out.mutable_data<T>();
      for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) po[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    }
  });
  return {out};
}

std::vector<Tensor> constant_of_shape(const Call& c) {
  Shape shape = ints_of(c, c.need(0));
  const Tensor* value = c.node.attr_tensor("value");
  if (value && value->element_count() != 1) c.invalid("value must hold one element, it has {}", value->element_count());
  Tensor out = new_output(c, value ? value->type : DataType::float32, shape);
  if (value) {
    const size_t es = element_size(value->type);
    for (int64_t i = 0; i < out.element_count(); ++i) std::memcpy(out.bytes->data() + i * es, value->bytes->data(), es);
  }
  return {out};
}

std::vector<Tensor> scatter_nd(const Call& c) {
  const Tensor& data = c.need(0);
  const Tensor& indices_t = c.need(1);
  const Tensor& updates = c.need(2);
  if (updates.type != data.type) c.invalid("updates are {}, data {}", to_string(updates.type), to_string(data.type));
  const std::string reduction = c.node.attr_string("reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" && reduction != "min")
    c.invalid("unknown reduction '{}'", reduction);
  if (indices_t.shape.empty()) c.invalid("indices must have rank >= 1");
  const auto rank = static_cast<int64_t>(data.shape.size());
  const int64_t k = indices_t.shape.back();
  if (k < 1 || k > rank) c.invalid("index tuples of {} values for data of rank {}", k, rank);
  Shape expected(indices_t.shape.begin(), indices_t.shape.end() - 1);
  expected.insert(expected.end(), data.shape.begin() + k, data.shape.end());
  if (updates.shape != expected)
    c.invalid("updates have shape [{}], indices and data need [{}]", fmt::join(updates.shape, ","), fmt::join(expected, ","));
  auto indices = ints_of(c, indices_t);
  Tensor out = same_as(data);
  std::memcpy(out.bytes->data(), data.bytes->data(), data.bytes->size());
  const int64_t slice = count_of(Shape(data.shape.begin() + k, data.shape.end()));
  const int64_t tuples = count_of(Shape(indices_t.shape.begin(), indices_t.shape.end() - 1));
  Shape strides(static_cast<size_t>(k));
  for (int64_t d = 0; d < k; ++d) strides[d] = count_of(Shape(data.shape.begin() + d + 1, data.shape.end()));
  // Every index is checked before anything is written.
  std::vector<int64_t> offsets(static_cast<size_t>(tuples));
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = 0;
    for (int64_t d = 0; d < k; ++d) {
      int64_t i = indices[t * k + d], dim = data.shape[d];
      if (i < -dim || i >= dim) c.invalid("index {} out of range [-{}, {}) for dimension {}", i, dim, dim, d);
      off += (i < 0 ? i + dim : i) * strides[d];
    }
    offsets[t] = off;
  }
  numeric(c, data.type, [&](auto tag) {
    using T = decltype(tag);
    T* po = out.mutable_data<T>();
    const T* pu = updates.data<T>();
    for (int64_t t = 0; t < tuples; ++t)
      for (int64_t j = 0; j < slice; ++j) {
        T& dst = po[offsets[t] + j];
        T v = pu[t * slice + j];
        if (reduction == "none") dst = v;
        else if constexpr (std::is_same_v<T, bool>) c.unsupported_case("reduction on bool data");
        else if (reduction == "add") dst = static_cast<T>(dst + v);
        else if (reduction == "mul") dst = static_cast<T>(dst * v);
        else if (reduction == "max") dst = std::max(dst, v);
        else dst = std::min(dst, v);
      }
  });
  return {out};
}

std::vector<Tensor> size_of(const Call& c) {
  Tensor out = Tensor::zeros(DataType::int64, {});
  out.mutable_data<int64_t>()[0] = c.need(0).element_count();
  return {out};
}

std::vector<Tensor> identity(const Call& c) { return {c.need(0)}; }

std::vector<Tensor> dropout(const Call& c) {
  const Tensor& x = c.need(0);
  if (c.opset >= 12) {
    // Training mode with ratio 0 keeps every element and scales by 1/(1-0): exactly the identity (Swin exports its
    // attention dropout so, with p=0). Any other ratio is random: not an inference op.
    const Tensor* ratio = c.opt(1);
    const double p = ratio ? scalar_of(c, *ratio) : 0.5;
    if (const Tensor* t = c.opt(2); t && scalar_of(c, *t) != 0 && p != 0)
      c.unsupported_case("training_mode=true with ratio {}", p);
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

std::vector<KernelEntry> shape_kernels() {
  return {
      {"Flatten", flatten}, {"Reshape", reshape}, {"Transpose", transpose}, {"Squeeze", squeeze},
      {"Unsqueeze", unsqueeze}, {"Concat", concat}, {"Gather", gather}, {"Pad", pad}, {"Cast", cast},
      {"Shape", shape_of}, {"Constant", constant}, {"Dropout", dropout}, {"Identity", identity},
      {"Slice", slice}, {"Split", split}, {"Expand", expand}, {"Tile", tile}, {"Range", range},
      {"ConstantOfShape", constant_of_shape}, {"ScatterND", scatter_nd}, {"Size", size_of},
  };
}

}  // namespace xfer::nn::reference
