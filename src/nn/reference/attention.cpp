// Dense and attention reference kernels: Gemm, MatMul (batched, broadcasting), Softmax.
#include "nn/reference/common.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace xfer::nn::reference {

namespace {

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

}  // namespace

std::vector<KernelEntry> attention_kernels() {
  return {
      {"Gemm", gemm}, {"MatMul", matmul}, {"Softmax", softmax},
  };
}

}  // namespace xfer::nn::reference
