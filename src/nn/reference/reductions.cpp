// Reduction reference kernels.
#include "nn/reference/common.h"

#include <algorithm>
#include <cmath>

namespace xfer::nn::reference {

namespace {

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

}  // namespace

std::vector<KernelEntry> reduction_kernels() {
  return {
      {"ReduceMean", reduce_mean},
  };
}

}  // namespace xfer::nn::reference
