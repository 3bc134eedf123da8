// Reduction reference kernels: ReduceMean/Sum/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp and ArgMax/ArgMin.
#include "nn/reference/common.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace xfer::nn::reference {

namespace {

// Where a reduction's axes come from: ReduceSum took them as an input from opset 13, the others from opset 18.
int64_t axes_input_since(const std::string& op) { return op == "ReduceSum" ? 13 : 18; }

std::vector<Tensor> reduce(const Call& c) {
  const Tensor& x = c.need(0);
  const std::string& op = c.node.op_type;
  auto rank = static_cast<int64_t>(x.shape.size());
  auto axes = axes_input_or_attr(c, 1, axes_input_since(op));
  bool keepdims = c.node.attr_int("keepdims", 1) != 0;
  bool noop = c.node.attr_int("noop_with_empty_axes", 0) != 0;
  if (axes.empty() && noop) return {x};
  std::vector<bool> reduced(rank, axes.empty());
  for (auto a : axes) reduced[normalize_axis(c, a, rank)] = true;
  Shape out_shape, kept_shape(rank);
  for (int64_t d = 0; d < rank; ++d) {
    kept_shape[d] = reduced[d] ? 1 : x.shape[d];
    if (!reduced[d] || keepdims) out_shape.push_back(kept_shape[d]);
  }
  Tensor out = new_output(c, x.type, out_shape);
  Shape strides = broadcast_strides(kept_shape, x.shape);
  const int64_t group = x.element_count() / std::max<int64_t>(count_of(kept_shape), 1);
  const bool is_max = op == "ReduceMax", is_min = op == "ReduceMin";
  numeric(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("bool input");
    } else {
      if (!std::is_floating_point_v<T> && op != "ReduceSum" && op != "ReduceProd" && !is_max && !is_min)
        c.unsupported_case("integer input");
      const T* px = x.data<T>();
      // In double; LogSumExp subtracts each group's maximum first so exp cannot overflow.
      double init = op == "ReduceProd" ? 1.0 : is_max ? -std::numeric_limits<double>::infinity()
                  : is_min ? std::numeric_limits<double>::infinity() : 0.0;
      std::vector<double> acc(static_cast<size_t>(count_of(kept_shape)), init), peak;
      std::array<Shape, 1> s{strides};
      if (op == "ReduceLogSumExp") {
        peak.assign(acc.size(), -std::numeric_limits<double>::infinity());
        broadcast_loop<1>(x.shape, s, [&](int64_t i, const std::array<int64_t, 1>& o) { peak[o[0]] = std::max(peak[o[0]], static_cast<double>(px[i])); });
        for (auto& p : peak) if (!std::isfinite(p)) p = 0;
      }
      auto run = [&](auto fn) {
        broadcast_loop<1>(x.shape, s, [&](int64_t i, const std::array<int64_t, 1>& o) { acc[o[0]] = fn(acc[o[0]], static_cast<double>(px[i]), o[0]); });
      };
      if (is_max) run([](double a, double v, int64_t) { return std::isnan(v) || v > a ? v : a; });
      else if (is_min) run([](double a, double v, int64_t) { return std::isnan(v) || v < a ? v : a; });
      else if (op == "ReduceProd") run([](double a, double v, int64_t) { return a * v; });
      else if (op == "ReduceL1") run([](double a, double v, int64_t) { return a + std::abs(v); });
      else if (op == "ReduceL2" || op == "ReduceSumSquare") run([](double a, double v, int64_t) { return a + v * v; });
      else if (op == "ReduceLogSumExp") run([&](double a, double v, int64_t k) { return a + std::exp(v - peak[k]); });
      else run([](double a, double v, int64_t) { return a + v; });  // Sum, Mean, LogSum
      T* po = out.mutable_data<T>();
      for (size_t k = 0; k < acc.size(); ++k) {
        double v = acc[k];
        if (op == "ReduceMean") v = group ? v / static_cast<double>(group) : std::nan("");
        else if (op == "ReduceL2") v = std::sqrt(v);
        else if (op == "ReduceLogSum") v = std::log(v);
        else if (op == "ReduceLogSumExp") v = std::log(v) + peak[k];
        po[k] = static_cast<T>(v);
      }
    }
  });
  return {out};
}

// ArgMax/ArgMin: int64 indices along one axis; select_last_index picks the last of equal extremes.
std::vector<Tensor> arg_extreme(const Call& c) {
  const Tensor& x = c.need(0);
  auto rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normalize_axis(c, c.node.attr_int("axis", 0), rank);
  bool keepdims = c.node.attr_int("keepdims", 1) != 0, last = c.node.attr_int("select_last_index", 0) != 0;
  bool is_max = c.node.op_type == "ArgMax";
  Shape out_shape;
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis) out_shape.push_back(x.shape[d]);
    else if (keepdims) out_shape.push_back(1);
  Tensor out = new_output(c, DataType::int64, out_shape);
  int64_t outer = count_of(Shape(x.shape.begin(), x.shape.begin() + axis)), len = x.shape[axis];
  int64_t inner = count_of(Shape(x.shape.begin() + axis + 1, x.shape.end()));
  if (len == 0) c.invalid("cannot take the arg of an empty axis");
  numeric(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best = 0;
        for (int64_t k = 1; k < len; ++k) {
          T v = px[(o * len + k) * inner + i], b = px[(o * len + best) * inner + i];
          if (is_max ? (v > b || (last && v == b)) : (v < b || (last && v == b))) best = k;
        }
        out.mutable_data<int64_t>()[o * inner + i] = best;
      }
  });
  return {out};
}

}  // namespace

std::vector<KernelEntry> reduction_kernels() {
  return {
      {"ReduceMean", reduce}, {"ReduceSum", reduce}, {"ReduceMax", reduce}, {"ReduceMin", reduce},
      {"ReduceProd", reduce}, {"ReduceL1", reduce}, {"ReduceL2", reduce}, {"ReduceSumSquare", reduce},
      {"ReduceLogSum", reduce}, {"ReduceLogSumExp", reduce}, {"ArgMax", arg_extreme}, {"ArgMin", arg_extreme},
  };
}

}  // namespace xfer::nn::reference
