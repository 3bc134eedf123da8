// The forms exporters write transformer ops in, folded back into one node each, so the plan can give each one
// oneDNN primitive (layer_normalization, eltwise GELU, matmul with post-ops) instead of a chain of host kernels.
// Every rewrite keeps ONNX semantics: LayerNormalization and Gelu are ONNX ops (opsets 17 and 20), and a MatMul's
// fused "_bias" (input 2) and "_activation" mean what the reference kernel computes (nn/reference_ops.h).
#include <cmath>
#include <set>

#include "nn/pass_utils.h"

namespace xfer::nn {
namespace {

// The graph as the patterns see it: producers and consumer counts, kept up to date as nodes are rewritten.
struct View {
  Graph& g;
  std::map<std::string, size_t> producer;
  std::map<std::string, int> counts;
  std::vector<bool> removed;

  explicit View(Graph& graph) : g(graph), producer(producers(graph)), counts(consumer_counts(graph)),
                                removed(graph.nodes.size(), false) {}

  // The node computing `value` if it is `op` and not yet removed.
  Node* made_by(const std::string& value, const char* op) {
    auto it = producer.find(value);
    if (it == producer.end() || removed[it->second]) return nullptr;
    Node& n = g.nodes[it->second];
    return n.op_type == op ? &n : nullptr;
  }
  // The only node reading `value` (if it is `op`, when given).
  Node* only_reader(const std::string& value, const char* op = nullptr) {
    if (counts[value] != 1) return nullptr;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (removed[i]) continue;
      for (const auto& in : g.nodes[i].inputs)
        if (in == value) return !op || g.nodes[i].op_type == op ? &g.nodes[i] : nullptr;
    }
    return nullptr;
  }
  size_t index_of(const Node* n) const { return static_cast<size_t>(n - g.nodes.data()); }
  void remove(const Node* n) { removed[index_of(n)] = true; }
  // Node `from` (rewritten) takes the place and the outputs of `last`, which reads it: there all its inputs are
  // computed. Returns the rewritten node.
  Node& absorb(size_t from, Node rewritten, const Node& last) {
    const size_t at = index_of(&last);
    rewritten.outputs = last.outputs;
    removed[from] = true;
    g.nodes[at] = std::move(rewritten);
    for (const auto& o : g.nodes[at].outputs) producer[o] = at;
    return g.nodes[at];
  }
};

bool scalar_is(const Graph& g, const std::string& name, double value, double tolerance = 0) {
  const Tensor* t = constant_value(g, name);
  if (!t || t->element_count() != 1) return false;
  double v;
  if (t->type == DataType::float32) v = t->data<float>()[0];
  else if (t->type == DataType::float64) v = t->data<double>()[0];
  else return false;
  return std::abs(v - value) <= tolerance;
}

bool scalar_of(const Graph& g, const std::string& name, float& value) {
  const Tensor* t = constant_value(g, name);
  if (!t || t->element_count() != 1 || t->type != DataType::float32) return false;
  value = t->data<float>()[0];
  return true;
}

// Of a binary node's two inputs, the one that is not `known` ("" when neither is).
std::string other_input(const Node& n, const std::string& known) {
  if (n.inputs.size() != 2) return "";
  if (n.inputs[0] == known) return n.inputs[1];
  if (n.inputs[1] == known) return n.inputs[0];
  return "";
}

// x * 0.5 * (1 + erf(x / sqrt(2))) as PyTorch writes it (Div or Mul by 1/sqrt(2); the 0.5 applied last or to x
// first) becomes Gelu(x).
void fold_gelu(View& v) {
  for (size_t i = 0; i < v.g.nodes.size(); ++i) {
    if (v.removed[i] || v.g.nodes[i].op_type != "Erf" || v.g.nodes[i].inputs.size() != 1) continue;
    Node& erf = v.g.nodes[i];
    std::string x;
    Node* scale = v.made_by(erf.inputs[0], "Div");
    if (scale && scale->inputs.size() == 2 && scalar_is(v.g, scale->inputs[1], std::sqrt(2.0), 1e-4)) {
      x = scale->inputs[0];
    } else {
      scale = v.made_by(erf.inputs[0], "Mul");
      if (!scale || scale->inputs.size() != 2) continue;
      for (int k = 0; k < 2 && x.empty(); ++k)
        if (scalar_is(v.g, scale->inputs[k], 1 / std::sqrt(2.0), 1e-5)) x = scale->inputs[1 - k];
    }
    if (x.empty() || v.counts[erf.inputs[0]] != 1 || v.counts[erf.outputs[0]] != 1) continue;
    Node* plus_one = v.only_reader(erf.outputs[0], "Add");
    if (!plus_one || !scalar_is(v.g, other_input(*plus_one, erf.outputs[0]), 1.0)) continue;
    Node* product = v.only_reader(plus_one->outputs[0], "Mul");
    if (!product) continue;
    const std::string factor = other_input(*product, plus_one->outputs[0]);
    Node* last = nullptr;
    const Node* half = nullptr;
    if (factor == x) {  // (x * (1 + erf)) * 0.5
      last = v.only_reader(product->outputs[0], "Mul");
      if (!last || !scalar_is(v.g, other_input(*last, product->outputs[0]), 0.5)) continue;
    } else {  // (x * 0.5) * (1 + erf)
      half = v.made_by(factor, "Mul");
      if (!half || v.counts[factor] != 1 || !scalar_is(v.g, other_input(*half, x), 0.5)) continue;
      last = product;
    }
    Node gelu;
    gelu.name = last->name;
    gelu.op_type = "Gelu";
    gelu.inputs = {x};
    gelu.outputs = last->outputs;
    std::vector<const Node*> gone = {scale, &erf, plus_one};
    if (last != product) gone.push_back(product);
    if (half) gone.push_back(half);
    for (const Node* n : gone) v.remove(n);
    v.g.nodes[v.index_of(last)] = std::move(gelu);
  }
}

// x * Sigmoid(x) (PyTorch's SiLU, EfficientNet's activation) becomes Swish(x), and x * HardSigmoid(x; 1/6, 1/2)
// (Hardswish exported before opset 14: MobileNetV3) becomes HardSwish(x): one oneDNN eltwise each, which a
// convolution then takes as a post-op, where the written-out form cost an eltwise and a binary pass over memory
// and kept the conv's own output alive for the Mul. "Swish" is internal (ONNX has no SiLU op): x * sigmoid(x).
void fold_gated_activations(View& v) {
  for (size_t i = 0; i < v.g.nodes.size(); ++i) {
    if (v.removed[i] || v.g.nodes[i].op_type != "Mul" || v.g.nodes[i].inputs.size() != 2) continue;
    Node& mul = v.g.nodes[i];
    for (int k = 0; k < 2; ++k) {
      const std::string& gate = mul.inputs[k];
      const std::string& x = mul.inputs[1 - k];
      if (v.counts[gate] != 1) continue;
      std::string op;
      if (Node* s = v.made_by(gate, "Sigmoid"); s && s->inputs.size() == 1 && s->inputs[0] == x) {
        op = "Swish";
        v.remove(s);
      } else if (Node* h = v.made_by(gate, "HardSigmoid"); h && h->inputs.size() == 1 && h->inputs[0] == x &&
                 std::abs(h->attr_float("alpha", 0.2f) - 1.0f / 6) < 1e-6f && h->attr_float("beta", 0.5f) == 0.5f) {
        op = "HardSwish";
        v.remove(h);
      } else {
        continue;
      }
      Node act;
      act.name = mul.name;
      act.op_type = op;
      act.inputs = {x};
      act.outputs = mul.outputs;
      mul = std::move(act);
      break;
    }
  }
}

// ReduceMean over the last axis, subtracted, squared, averaged, plus epsilon, square-rooted, divided by, then an
// optional scale and shift: LayerNormalization(x, scale, shift, axis=-1, epsilon).
void fold_layer_norm(View& v) {
  for (size_t i = 0; i < v.g.nodes.size(); ++i) {
    if (v.removed[i] || v.g.nodes[i].op_type != "Div" || v.g.nodes[i].inputs.size() != 2) continue;
    Node& div = v.g.nodes[i];
    const std::string& centred = div.inputs[0];
    Node* sub = v.made_by(centred, "Sub");
    Node* sqrt = v.made_by(div.inputs[1], "Sqrt");
    if (!sub || !sqrt || sub->inputs.size() != 2 || v.counts[centred] != 2 || v.counts[div.inputs[1]] != 1) continue;
    const std::string x = sub->inputs[0];
    auto last_axis_mean = [&](Node* mean, const std::string& of) {
      return mean && mean->inputs.size() == 1 && mean->inputs[0] == of && mean->attr_int("keepdims", 1) == 1 &&
             mean->attr_ints("axes", {}) == std::vector<int64_t>{-1};
    };
    Node* mean = v.made_by(sub->inputs[1], "ReduceMean");
    if (!last_axis_mean(mean, x) || v.counts[sub->inputs[1]] != 1) continue;
    Node* plus_eps = v.made_by(sqrt->inputs[0], "Add");
    if (!plus_eps || plus_eps->inputs.size() != 2 || v.counts[sqrt->inputs[0]] != 1) continue;
    float eps = 0;
    std::string variance;
    for (int k = 0; k < 2 && variance.empty(); ++k)
      if (scalar_of(v.g, plus_eps->inputs[k], eps)) variance = plus_eps->inputs[1 - k];
    Node* var_mean = v.made_by(variance, "ReduceMean");
    if (variance.empty() || v.counts[variance] != 1 || !var_mean || var_mean->inputs.size() != 1) continue;
    Node* square = v.made_by(var_mean->inputs[0], "Pow");
    bool squared = square && square->inputs.size() == 2 && square->inputs[0] == centred && scalar_is(v.g, square->inputs[1], 2.0);
    if (!squared) {
      square = v.made_by(var_mean->inputs[0], "Mul");
      squared = square && square->inputs.size() == 2 && square->inputs[0] == centred && square->inputs[1] == centred;
    }
    if (!squared || !last_axis_mean(var_mean, square->outputs[0]) || v.counts[var_mean->inputs[0]] != 1) continue;
    // Pow and Mul both read `centred` (twice for Mul): the Sub's readers are exactly the Div and the square.
    if (square->op_type == "Mul" && v.counts[centred] != 3) continue;
    std::vector<const Node*> gone = {sub, mean, square, var_mean, plus_eps, sqrt};
    Node* last = &div;
    std::string scale, shift;
    if (Node* mul = v.only_reader(div.outputs[0], "Mul")) {
      const std::string s = other_input(*mul, div.outputs[0]);
      if (!s.empty() && is_float_const(v.g, s)) {
        scale = s;
        gone.push_back(last);
        last = mul;
        if (Node* add = v.only_reader(mul->outputs[0], "Add")) {
          const std::string b = other_input(*add, mul->outputs[0]);
          if (!b.empty() && is_float_const(v.g, b)) {
            shift = b;
            gone.push_back(last);
            last = add;
          }
        }
      }
    }
    if (scale.empty()) {
      scale = fresh_name(v.g, div.name + "/unit_scale");
      Tensor one = Tensor::zeros(DataType::float32, {1});
      one.mutable_data<float>()[0] = 1.0f;
      v.g.initializers[scale] = one;
    }
    Node ln;
    ln.name = last->name;
    ln.op_type = "LayerNormalization";
    ln.inputs = {x, scale};
    if (!shift.empty()) ln.inputs.push_back(shift);
    ln.outputs = last->outputs;
    ln.attributes["axis"] = int64_t{-1};
    ln.attributes["epsilon"] = eps;
    for (const Node* n : gone) v.remove(n);
    v.g.nodes[v.index_of(last)] = std::move(ln);
  }
}

// Einsum "<batch>ik,<batch>kj-><batch>ij" (or with the second operand "<batch>jk") is MatMul, with a Transpose
// of the second operand's last two axes for the latter: MaxViT's attention.
void fold_einsum(View& v) {
  for (size_t i = 0; i < v.g.nodes.size(); ++i) {
    Node& n = v.g.nodes[i];
    if (v.removed[i] || n.op_type != "Einsum" || n.inputs.size() != 2 || n.outputs.size() != 1) continue;
    std::string eq;
    for (char ch : n.attr_string("equation", "")) if (ch != ' ') eq += ch;
    const size_t arrow = eq.find("->"), comma = eq.find(',');
    if (arrow == std::string::npos || comma == std::string::npos || comma > arrow || eq.find('.') != std::string::npos)
      continue;
    const std::string a = eq.substr(0, comma), b = eq.substr(comma + 1, arrow - comma - 1), o = eq.substr(arrow + 2);
    const size_t r = a.size();
    if (r < 2 || b.size() != r || o.size() != r || std::set<char>(a.begin(), a.end()).size() != r) continue;
    const std::string batch = a.substr(0, r - 2);
    if (b.substr(0, r - 2) != batch || o.substr(0, r - 2) != batch) continue;
    const char row = a[r - 2], inner = a[r - 1], col = o[r - 1];
    if (o[r - 2] != row || col == inner || col == row || batch.find(col) != std::string::npos) continue;
    bool transposed;
    if (b[r - 2] == inner && b[r - 1] == col) transposed = false;
    else if (b[r - 2] == col && b[r - 1] == inner) transposed = true;
    else continue;
    Node mm;
    mm.name = n.name;
    mm.op_type = "MatMul";
    mm.inputs = n.inputs;
    mm.outputs = n.outputs;
    if (transposed) {
      Node t;
      t.name = fresh_name(v.g, n.name + "/transposed_operand");
      t.op_type = "Transpose";
      t.inputs = {n.inputs[1]};
      t.outputs = {t.name};
      std::vector<int64_t> perm;
      for (size_t k = 0; k < r; ++k) perm.push_back(static_cast<int64_t>(k));
      std::swap(perm[r - 2], perm[r - 1]);
      t.attributes["perm"] = perm;
      mm.inputs[1] = t.name;
      // The Transpose takes the Einsum's place and the MatMul follows it.
      v.g.nodes[i] = std::move(t);
      v.g.nodes.insert(v.g.nodes.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(mm));
      v.removed.insert(v.removed.begin() + static_cast<std::ptrdiff_t>(i) + 1, false);
      ++i;
    } else {
      v.g.nodes[i] = std::move(mm);
    }
  }
}

// MatMul by a constant matrix, then Add of a constant bias row, then an activation: one MatMul with "_bias"
// (input 2) and "_activation", which oneDNN's matmul applies while the output is in registers.
void fuse_into_matmuls(View& v, int64_t opset) {
  for (size_t i = 0; i < v.g.nodes.size(); ++i) {
    if (v.removed[i] || v.g.nodes[i].op_type != "MatMul" || v.g.nodes[i].inputs.size() != 2) continue;
    Node& mm = v.g.nodes[i];
    const Tensor* w = constant_value(v.g, mm.inputs[1]);
    if (!w || w->type != DataType::float32 || w->shape.size() != 2 || mm.has_attr("_bias") || mm.has_attr("_activation"))
      continue;
    const int64_t columns = w->shape[1];
    size_t at = i;
    if (Node* add = v.only_reader(v.g.nodes[at].outputs[0], "Add")) {
      const std::string b = other_input(*add, v.g.nodes[at].outputs[0]);
      const Tensor* bias = b.empty() ? nullptr : constant_value(v.g, b);
      if (bias && bias->type == DataType::float32 && !bias->shape.empty() && bias->shape.back() == columns &&
          bias->element_count() == columns) {
        Node fused = v.g.nodes[at];
        fused.inputs.push_back(b);
        fused.attributes["_bias"] = int64_t{1};
        at = v.index_of(&v.absorb(at, std::move(fused), *add));
      }
    }
    std::string act;
    float alpha, beta;
    if (Node* next = v.only_reader(v.g.nodes[at].outputs[0]);
        next && next->inputs.size() >= 1 && next->inputs[0] == v.g.nodes[at].outputs[0] &&
        fusable_activation(v.g, *next, opset, act, alpha, beta)) {
      Node fused = v.g.nodes[at];
      fused.attributes["_activation"] = act;
      fused.attributes["_alpha"] = alpha;
      fused.attributes["_beta"] = beta;
      v.absorb(at, std::move(fused), *next);
    }
  }
}

// Whether `name` is known before any input arrives: a constant, or computed only from constants and from the
// shapes of activations (Swin's query scale, (C / heads) ** -0.5, is Shape -> Gather -> Div -> Cast -> Pow).
bool fixed_at_plan_time(const Graph& g, const std::map<std::string, size_t>& producer, const std::string& name,
                        std::map<std::string, bool>& known) {
  if (auto it = known.find(name); it != known.end()) return it->second;
  bool fixed = constant_value(g, name) != nullptr;
  if (!fixed) {
    auto p = producer.find(name);
    if (p != producer.end()) {
      const Node& n = g.nodes[p->second];
      fixed = n.op_type == "Shape";
      if (!fixed && n.op_type != "RandomNormal" && n.op_type != "RandomUniform" &&
          n.op_type != "RandomNormalLike" && n.op_type != "RandomUniformLike") {
        fixed = true;
        for (const auto& in : n.inputs) fixed = fixed && (in.empty() || fixed_at_plan_time(g, producer, in, known));
      }
    }
  }
  known[name] = fixed;
  return fixed;
}

// Attention's query scaled before its product with the keys (torchvision's Swin: q * head_dim ** -0.5, a separate
// pass over q and, as q is a strided part of the projection, two copies around it): MatMul(Mul(q, s), k) becomes
// MatMul(q, k, "", s) with "_scale_a", which the plan applies to the product as oneDNN's output scale when s is
// one value (the reference kernel multiplies A by input 3 first, numpy broadcasting, so any s stays exact). Only a
// scale fixed at plan time is taken, so the plan can read it; a MatMul with a fused bias keeps its Mul.
void fold_scale_into_matmuls(View& v) {
  std::map<std::string, bool> fixed;
  for (size_t i = 0; i < v.g.nodes.size(); ++i) {
    Node& mm = v.g.nodes[i];
    if (v.removed[i] || mm.op_type != "MatMul" || mm.inputs.size() != 2 || mm.has_attr("_bias")) continue;
    Node* mul = v.made_by(mm.inputs[0], "Mul");
    if (!mul || mul->inputs.size() != 2 || v.counts[mm.inputs[0]] != 1) continue;
    for (int k = 0; k < 2; ++k) {
      const std::string& s = mul->inputs[k];
      if (!fixed_at_plan_time(v.g, v.producer, s, fixed) || fixed_at_plan_time(v.g, v.producer, mul->inputs[1 - k], fixed))
        continue;
      // A constant scale is checked here; a computed one by the plan, which leaves a MatMul whose scale is not one
      // value to the reference kernel.
      if (const Tensor* t = constant_value(v.g, s); t && t->element_count() != 1) continue;
      mm.inputs = {mul->inputs[1 - k], mm.inputs[1], "", s};
      mm.attributes["_scale_a"] = int64_t{1};
      v.remove(mul);
      break;
    }
  }
}

}  // namespace

void fold_transformer_patterns(Graph& g, int64_t opset) {
  {
    View v(g);
    fold_gated_activations(v);
    erase_nodes(g, v.removed);
  }
  {
    View v(g);
    fold_gelu(v);
    erase_nodes(g, v.removed);
  }
  {
    View v(g);
    fold_layer_norm(v);
    erase_nodes(g, v.removed);
  }
  {
    View v(g);
    fold_einsum(v);
    erase_nodes(g, v.removed);
  }
  {
    View v(g);
    fuse_into_matmuls(v, opset);
    erase_nodes(g, v.removed);
  }
  {
    View v(g);
    fold_scale_into_matmuls(v);
    erase_nodes(g, v.removed);
  }
}

}  // namespace xfer::nn
