// Dense and attention reference kernels: Gemm, MatMul (batched, broadcasting), Einsum, Softmax, LayerNormalization.
#include "nn/reference/common.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

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
  // Fused by nn/attention_passes.cpp: "_scale_a" multiplies A by input 3 (numpy broadcast) before the product, as
  // the Mul it replaced did.
  if (c.node.attr_int("_scale_a", 0) != 0) {
    Node mul;
    mul.name = c.node.name + "/scale_a";
    mul.op_type = "Mul";
    const std::vector<const Tensor*> operands = {&c.need(0), &c.need(3)};
    const Tensor scaled = binary(Call{mul, operands, c.opset}).at(0);
    Node unscaled = c.node;
    unscaled.attributes.erase("_scale_a");
    std::vector<const Tensor*> ins = c.in;
    ins[0] = &scaled;
    ins.resize(3);
    return matmul(Call{unscaled, ins, c.opset});
  }
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
  // Fused by nn/passes.h: a bias (input 2, one value per output column) and an activation.
  if (c.node.attr_int("_bias", 0) != 0) {
    Node add;
    add.name = c.node.name + "/bias";
    add.op_type = "Add";
    std::vector<const Tensor*> operands = {&out, &c.need(2)};
    out = binary(Call{add, operands, c.opset}).at(0);
  }
  const std::string act = c.node.attr_string("_activation", "");
  if (!act.empty()) {
    if (out.type != DataType::float32) c.unsupported_case("a fused activation on {}", to_string(out.type));
    const float alpha = c.node.attr_float("_alpha", 0.0f), beta = c.node.attr_float("_beta", 0.0f);
    Tensor activated = same_as(out);
    for (int64_t i = 0; i < out.element_count(); ++i)
      activated.mutable_data<float>()[i] = activation_value(act, alpha, beta, out.data<float>()[i]);
    out = std::move(activated);
  }
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


// LayerNormalization (opset 17): over the axes from `axis` on, in double; Scale and B broadcast to those axes.
std::vector<Tensor> layer_norm(const Call& c) {
  const Tensor& x = c.need(0);
  const Tensor& scale = c.need(1);
  const Tensor* bias = c.opt(2);
  auto rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normalize_axis(c, c.node.attr_int("axis", -1), rank);
  const double eps = c.node.attr_float("epsilon", 1e-5f);
  if (c.node.attr_int("stash_type", 1) != 1) c.unsupported_case("stash_type {}", c.node.attr_int("stash_type", 1));
  const Shape norm_shape(x.shape.begin() + axis, x.shape.end());
  const int64_t outer = count_of(Shape(x.shape.begin(), x.shape.begin() + axis)), len = count_of(norm_shape);
  auto broadcast_to_norm = [&](const Tensor& t, const char* what) {
    Shape b = broadcast_shape(c, t.shape, norm_shape);
    if (b != norm_shape) c.invalid("{} of shape [{}] does not broadcast to [{}]", what, fmt::join(t.shape, ","), fmt::join(norm_shape, ","));
    return broadcast_strides(t.shape, norm_shape);
  };
  Shape scale_strides = broadcast_to_norm(scale, "Scale"), bias_strides;
  if (bias) bias_strides = broadcast_to_norm(*bias, "B");
  if (scale.type != x.type || (bias && bias->type != x.type)) c.invalid("Scale and B must have X's type");
  Tensor y = same_as(x);
  Shape stat_shape = x.shape;
  for (int64_t d = axis; d < rank; ++d) stat_shape[d] = 1;
  Tensor mean_t = Tensor::zeros(DataType::float32, stat_shape), inv_t = Tensor::zeros(DataType::float32, stat_shape);
  floating(c, x.type, [&](auto tag) {
    using T = decltype(tag);
    // Offsets of Scale/B per position in the normalised block (they broadcast over it).
    std::vector<int64_t> so(static_cast<size_t>(len)), bo(static_cast<size_t>(len));
    broadcast_loop<2>(norm_shape, {scale_strides, bias ? bias_strides : scale_strides},
                      [&](int64_t i, const std::array<int64_t, 2>& o) { so[i] = o[0]; bo[i] = o[1]; });
    const T* px = x.data<T>();
    T* py = y.mutable_data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = px + o * len;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < len; ++i) mean += row[i];
      mean /= static_cast<double>(std::max<int64_t>(len, 1));
      for (int64_t i = 0; i < len; ++i) var += (row[i] - mean) * (row[i] - mean);
      var /= static_cast<double>(std::max<int64_t>(len, 1));
      const double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t i = 0; i < len; ++i) {
        double v = (row[i] - mean) * inv * static_cast<double>(scale.data<T>()[so[i]]);
        if (bias) v += static_cast<double>(bias->data<T>()[bo[i]]);
        py[o * len + i] = static_cast<T>(v);
      }
      mean_t.mutable_data<float>()[o] = static_cast<float>(mean);
      inv_t.mutable_data<float>()[o] = static_cast<float>(inv);
    }
  });
  return {y, mean_t, inv_t};
}

// Einsum: the equation parsed into letters per operand (spaces ignored, "..." for broadcast dimensions), the
// output explicit after "->" or, implicitly, the letters used once in alphabetical order. Every combination of
// the letters' values is visited once: out[output letters] += product of the operands.
std::vector<Tensor> einsum(const Call& c) {
  std::string eq;
  for (char ch : c.node.attr_string("equation", "")) if (ch != ' ') eq += ch;
  if (eq.empty()) c.invalid("the equation is empty");
  std::vector<const Tensor*> ops;
  for (const Tensor* t : c.in) if (t) ops.push_back(t);
  if (ops.empty()) c.invalid("no inputs");
  const size_t arrow = eq.find("->");
  if (arrow != std::string::npos && eq.find("->", arrow + 1) != std::string::npos) c.invalid("equation '{}' has two '->'", eq);
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms(1);
  for (char ch : lhs) {
    if (ch == ',') terms.emplace_back();
    else terms.back() += ch;
  }
  if (terms.size() != ops.size()) c.invalid("equation '{}' has {} operands, the node {}", eq, terms.size(), ops.size());
  // Letters as indices 0..51; the ellipsis's dimensions as 52, 53, ...
  auto letter_id = [&](char ch) -> int {
    if (ch >= 'a' && ch <= 'z') return ch - 'a';
    if (ch >= 'A' && ch <= 'Z') return 26 + (ch - 'A');
    c.invalid("equation '{}': '{}' is not a letter", eq, ch);
  };
  std::map<int, int64_t> dim_of;
  int ellipsis_rank = -1;
  std::vector<std::vector<int>> subs(ops.size());
  auto parse = [&](const std::string& term, int64_t rank, std::vector<int>& out, bool is_output) {
    size_t dots = term.find("...");
    if (dots != std::string::npos && term.find("...", dots + 1) != std::string::npos) c.invalid("equation '{}': two ellipses in '{}'", eq, term);
    std::string rest = term;
    if (dots != std::string::npos) rest.erase(dots, 3);
    if (rest.find('.') != std::string::npos) c.invalid("equation '{}': a stray '.' in '{}'", eq, term);
    int64_t letters = static_cast<int64_t>(rest.size());
    int64_t extra = 0;
    if (dots != std::string::npos) {
      if (is_output) {
        extra = std::max(ellipsis_rank, 0);
      } else {
        extra = rank - letters;
        if (extra < 0) c.invalid("equation '{}': '{}' has more letters than its operand's rank {}", eq, term, rank);
        if (ellipsis_rank >= 0 && ellipsis_rank != extra)
          c.unsupported_case("equation '{}': ellipses of different ranks", eq);
        ellipsis_rank = static_cast<int>(extra);
      }
    } else if (!is_output && letters != rank) {
      c.invalid("equation '{}': '{}' names {} dimensions, its operand has {}", eq, term, letters, rank);
    }
    for (size_t i = 0; i < term.size(); ++i) {
      if (term.compare(i, 3, "...") == 0) {
        for (int64_t k = 0; k < extra; ++k) out.push_back(52 + static_cast<int>(k));
        i += 2;
      } else {
        out.push_back(letter_id(term[i]));
      }
    }
  };
  for (size_t k = 0; k < ops.size(); ++k) {
    parse(terms[k], static_cast<int64_t>(ops[k]->shape.size()), subs[k], false);
    if (ops[k]->type != ops[0]->type) c.invalid("operand types differ");
    for (size_t d = 0; d < subs[k].size(); ++d) {
      int id = subs[k][d];
      int64_t n = ops[k]->shape[d];
      auto [it, fresh] = dim_of.emplace(id, n);
      if (!fresh && it->second != n) {
        if (id >= 52 && (it->second == 1 || n == 1)) it->second = std::max(it->second, n);  // broadcast ellipsis dims
        else c.invalid("equation '{}': dimension '{}' is {} in one operand and {} in another", eq,
                       id < 52 ? static_cast<char>(id < 26 ? 'a' + id : 'A' + id - 26) : '.', it->second, n);
      }
    }
  }
  std::vector<int> out_subs;
  if (arrow != std::string::npos) {
    parse(eq.substr(arrow + 2), 0, out_subs, true);
    std::set<int> seen;
    for (int id : out_subs) {
      if (!seen.insert(id).second) c.invalid("equation '{}': the output repeats a letter", eq);
      if (!dim_of.count(id)) c.invalid("equation '{}': the output letter is in no operand", eq);
    }
  } else {
    std::map<int, int> uses;
    for (const auto& s : subs) for (int id : s) ++uses[id];
    for (int k = 0; k < std::max(ellipsis_rank, 0); ++k) out_subs.push_back(52 + k);
    for (const auto& [id, n] : uses) if (id < 52 && n == 1) out_subs.push_back(id);
  }
  // All letters: the output's first, then the summed ones.
  std::vector<int> all = out_subs;
  for (const auto& [id, n] : dim_of) if (std::find(all.begin(), all.end(), id) == all.end()) all.push_back(id);
  Shape out_shape;
  for (int id : out_subs) out_shape.push_back(dim_of.at(id));
  Shape loop_shape;
  for (int id : all) loop_shape.push_back(dim_of.at(id));
  Tensor out = new_output(c, ops[0]->type, out_shape);
  checked_count(c, loop_shape);
  // Each operand's stride along each loop letter (0 where it lacks the letter or broadcasts it).
  std::vector<Shape> strides(ops.size(), Shape(all.size(), 0));
  for (size_t k = 0; k < ops.size(); ++k) {
    int64_t s = 1;
    for (size_t d = subs[k].size(); d-- > 0;) {
      size_t pos = static_cast<size_t>(std::find(all.begin(), all.end(), subs[k][d]) - all.begin());
      if (ops[k]->shape[d] != 1 || dim_of.at(subs[k][d]) == 1) strides[k][pos] += s;
      s *= ops[k]->shape[d];
    }
  }
  numeric(c, ops[0]->type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      c.unsupported_case("bool operands");
    } else {
      T* po = out.mutable_data<T>();
      const int64_t total = count_of(loop_shape), per_out = total / std::max<int64_t>(out.element_count(), 1);
      Shape idx(all.size(), 0);
      std::vector<int64_t> off(ops.size(), 0);
      for (int64_t i = 0; i < total; ++i) {
        double prod = 1;
        for (size_t k = 0; k < ops.size(); ++k) prod *= static_cast<double>(ops[k]->data<T>()[off[k]]);
        po[per_out ? i / per_out : 0] += static_cast<T>(prod);
        for (size_t d = all.size(); d-- > 0;) {
          ++idx[d];
          for (size_t k = 0; k < ops.size(); ++k) off[k] += strides[k][d];
          if (idx[d] < loop_shape[d]) break;
          for (size_t k = 0; k < ops.size(); ++k) off[k] -= strides[k][d] * loop_shape[d];
          idx[d] = 0;
        }
      }
    }
  });
  return {out};
}

}  // namespace

std::vector<KernelEntry> attention_kernels() {
  return {
      {"Gemm", gemm}, {"MatMul", matmul}, {"Softmax", softmax}, {"LayerNormalization", layer_norm},
      {"Einsum", einsum},
  };
}

}  // namespace xfer::nn::reference
