// Data-movement and shape reference kernels (type-agnostic where they only move bytes), constants and casts.
#include "nn/reference/common.h"

#include <algorithm>
#include <cstring>

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

std::vector<Tensor> identity(const Call& c) { return {c.need(0)}; }

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

std::vector<KernelEntry> shape_kernels() {
  return {
      {"Flatten", flatten}, {"Reshape", reshape}, {"Transpose", transpose}, {"Squeeze", squeeze},
      {"Unsqueeze", unsqueeze}, {"Concat", concat}, {"Gather", gather}, {"Pad", pad}, {"Cast", cast},
      {"Shape", shape_of}, {"Constant", constant}, {"Dropout", dropout}, {"Identity", identity},
  };
}

}  // namespace xfer::nn::reference
