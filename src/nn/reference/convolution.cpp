// Convolution, pooling and normalisation reference kernels (1-D and 2-D; 1-D runs as 2-D with height 1).
#include "nn/reference/common.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace xfer::nn::reference {

// Spatial geometry from kernel_shape/strides/dilations/pads/auto_pad/ceil_mode, for `spatial` input dims.
SpatialWindow window_for(const Call& c, const Shape& spatial, const Shape& kernel) {
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
  SpatialWindow w;
  if (n == 1) {
    w.kw = kernel[0]; w.sw = strides[0]; w.dw = dil[0]; w.pl = pads[0]; w.pr = pads[1]; w.ow = out[0];
  } else {
    w.kh = kernel[0]; w.kw = kernel[1]; w.sh = strides[0]; w.sw = strides[1]; w.dh = dil[0]; w.dw = dil[1];
    w.pt = pads[0]; w.pl = pads[1]; w.pb = pads[2]; w.pr = pads[3]; w.oh = out[0]; w.ow = out[1];
  }
  return w;
}

namespace {

Shape spatial_of(const Tensor& x) { return Shape(x.shape.begin() + 2, x.shape.end()); }

Shape pooled_shape(const Tensor& x, const SpatialWindow& w) {
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
  SpatialWindow w = window_for(c, spatial_of(x), kernel);
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
  SpatialWindow w;
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

}  // namespace

std::vector<KernelEntry> convolution_kernels() {
  return {
      {"Conv", conv}, {"MaxPool", pool}, {"AveragePool", pool}, {"GlobalAveragePool", pool}, {"GlobalMaxPool", pool},
      {"BatchNormalization", batch_norm}, {"LRN", lrn},
  };
}

}  // namespace xfer::nn::reference
