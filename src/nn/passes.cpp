#include "nn/passes.h"

#include <cmath>
#include <map>
#include <set>

#include "nn/errors.h"
#include "nn/pass_utils.h"

namespace xfer::nn {

std::map<std::string, int> consumer_counts(const Graph& g) {
  std::map<std::string, int> counts;
  for (const auto& n : g.nodes)
    for (const auto& in : n.inputs) ++counts[in];
  for (const auto& out : g.outputs) counts[out.name] += 1000;  // an output is never fused away
  return counts;
}

// The index of the node that computes each value.
std::map<std::string, size_t> producers(const Graph& g) {
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs) producer[o] = i;
  return producer;
}

// `base`, or `base#2`, `base#3`, ... : a value name the graph does not use yet. The passes derive names from
// node names, and a hostile file can already hold a value of that name; reusing it would rewire the graph.
std::string fresh_name(const Graph& g, const std::string& base) {
  std::set<std::string> used;
  for (const auto& v : g.inputs) used.insert(v.name);
  for (const auto& v : g.outputs) used.insert(v.name);
  for (const auto& [name, t] : g.initializers) used.insert(name);
  for (const auto& n : g.nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    used.insert(n.outputs.begin(), n.outputs.end());
  }
  std::string name = base;
  for (int k = 2; used.count(name); ++k) name = base + "#" + std::to_string(k);
  return name;
}

void rename_input(Graph& g, const std::string& from, const std::string& to) {
  for (auto& n : g.nodes)
    for (auto& in : n.inputs)
      if (in == from) in = to;
}

void erase_nodes(Graph& g, const std::vector<bool>& removed) {
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

bool is_float_const(const Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  return it != g.initializers.end() && it->second.type == DataType::float32;
}

// The constant value of `name`: an initializer or the output of a Constant node with a tensor value.
const Tensor* constant_value(const Graph& g, const std::string& name) {
  if (auto it = g.initializers.find(name); it != g.initializers.end()) return &it->second;
  for (const auto& n : g.nodes)
    if (n.op_type == "Constant" && !n.outputs.empty() && n.outputs[0] == name) return n.attr_tensor("value");
  return nullptr;
}

// The activation a conv or matmul can apply to its output, with ONNX's alpha/beta; false when not fusable.
bool fusable_activation(const Graph& g, const Node& n, int64_t opset, std::string& act, float& alpha, float& beta) {
  act = n.op_type;
  alpha = beta = 0;
  if (act == "Relu" || act == "Sigmoid" || act == "Tanh" || act == "HardSwish" || act == "Swish") return true;
  if (act == "Gelu") return n.attr_string("approximate", "none") == "none";
  if (act == "LeakyRelu") { alpha = n.attr_float("alpha", 0.01f); return true; }
  if (act == "HardSigmoid") { alpha = n.attr_float("alpha", 0.2f); beta = n.attr_float("beta", 0.5f); return true; }
  if (act == "Clip") {
    alpha = -INFINITY;
    beta = INFINITY;
    if (opset < 11) {
      alpha = n.attr_float("min", -INFINITY);
      beta = n.attr_float("max", INFINITY);
      return true;
    }
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      if (n.inputs[i].empty()) continue;
      // An initializer or a Constant node (PyTorch exports ReLU6's bounds as Constant nodes).
      const Tensor* bound = constant_value(g, n.inputs[i]);
      if (!bound || bound->type != DataType::float32 || bound->element_count() != 1 || !bound->bytes) return false;
      (i == 1 ? alpha : beta) = bound->data<float>()[0];
    }
    return true;
  }
  return false;
}

namespace {

// Folds y = (conv(x) - mean) / sqrt(var + eps) * scale + b into the conv's weights and bias.
bool fold_batch_norm(Graph& g, Node& conv, const Node& bn) {
  if (bn.inputs.size() < 5 || bn.attr_int("training_mode", 0) != 0) return false;
  for (size_t i = 1; i < 5; ++i) if (!is_float_const(g, bn.inputs[i])) return false;
  if (conv.inputs.size() < 2 || !is_float_const(g, conv.inputs[1])) return false;
  if (conv.inputs.size() > 2 && !conv.inputs[2].empty() && !is_float_const(g, conv.inputs[2])) return false;
  const Tensor& w = g.initializers.at(conv.inputs[1]);
  int64_t M = w.shape.empty() ? 0 : w.shape[0];
  const Tensor &scale = g.initializers.at(bn.inputs[1]), &shift = g.initializers.at(bn.inputs[2]),
               &mean = g.initializers.at(bn.inputs[3]), &var = g.initializers.at(bn.inputs[4]);
  for (const Tensor* t : {&scale, &shift, &mean, &var}) if (t->element_count() != M) return false;
  double eps = bn.attr_float("epsilon", 1e-5f);
  Tensor nw = Tensor::zeros(DataType::float32, w.shape), nb = Tensor::zeros(DataType::float32, {M});
  int64_t per = w.element_count() / std::max<int64_t>(M, 1);
  const float* old_b = conv.inputs.size() > 2 && !conv.inputs[2].empty() ? g.initializers.at(conv.inputs[2]).data<float>() : nullptr;
  for (int64_t m = 0; m < M; ++m) {
    double k = scale.data<float>()[m] / std::sqrt(static_cast<double>(var.data<float>()[m]) + eps);
    for (int64_t i = 0; i < per; ++i) nw.mutable_data<float>()[m * per + i] = static_cast<float>(w.data<float>()[m * per + i] * k);
    double b = old_b ? old_b[m] : 0.0;
    nb.mutable_data<float>()[m] = static_cast<float>((b - mean.data<float>()[m]) * k + shift.data<float>()[m]);
  }
  std::string wname = fresh_name(g, conv.name + "/folded_weights"), bname = fresh_name(g, conv.name + "/folded_bias");
  g.initializers[wname] = nw;
  g.initializers[bname] = nb;
  conv.inputs.resize(3);
  conv.inputs[1] = wname;
  conv.inputs[2] = bname;
  return true;
}



// A Dropout that is the identity at inference: its mask unread, and not in training mode unless its ratio is 0
// (Swin's attention dropout is exported in training mode with p = 0).
bool inference_dropout(const Graph& g, const Node& n, std::map<std::string, int>& counts) {
  if (n.outputs.size() > 1 && !n.outputs[1].empty() && counts[n.outputs[1]] > 0) return false;
  if (n.inputs.size() < 3 || n.inputs[2].empty()) return true;
  auto constant_is = [&](const std::string& name, double value) {
    const Tensor* t = constant_value(g, name);
    if (!t || t->element_count() != 1) return false;
    if (t->type == DataType::boolean) return (t->data<bool>()[0] ? 1.0 : 0.0) == value;
    if (t->type == DataType::float32) return t->data<float>()[0] == value;
    if (t->type == DataType::float64) return t->data<double>()[0] == value;
    return false;
  };
  return constant_is(n.inputs[2], 0.0) || (!n.inputs[1].empty() && constant_is(n.inputs[1], 0.0));
}

// Zero Pad of H/W followed by AveragePool without pads (how PyTorch exports avg_pool2d with padding and
// count_include_pad=True) is AveragePool with those pads and count_include_pad=1: one oneDNN pooling that
// stays in the blocked layout instead of two reorders around a plain-layout Pad.
void fold_pad_into_average_pool(Graph& g, int64_t opset) {
  auto counts = consumer_counts(g);
  auto producer = producers(g);
  std::vector<bool> removed(g.nodes.size(), false);
  for (auto& pool : g.nodes) {
    if (pool.op_type != "AveragePool" || pool.inputs.empty() || pool.attr_int("ceil_mode", 0) != 0) continue;
    if (pool.attr_string("auto_pad", "NOTSET") != "NOTSET") continue;
    auto pool_pads = pool.attr_ints("pads", {0, 0, 0, 0});
    if (pool_pads != std::vector<int64_t>{0, 0, 0, 0}) continue;
    auto it = producer.find(pool.inputs[0]);
    if (it == producer.end() || counts[pool.inputs[0]] != 1) continue;
    Node& pad = g.nodes[it->second];
    if (pad.op_type != "Pad" || pad.inputs.empty() || pad.attr_string("mode", "constant") != "constant") continue;
    std::vector<int64_t> pads;
    if (opset < 11) {
      pads = pad.attr_ints("pads");
      if (pad.attr_float("value", 0.0f) != 0.0f) continue;
    } else {
      if (pad.inputs.size() < 2) continue;
      const Tensor* t = constant_value(g, pad.inputs[1]);
      if (!t || t->type != DataType::int64) continue;
      pads.assign(t->data<int64_t>(), t->data<int64_t>() + t->element_count());
      if (pad.inputs.size() > 2 && !pad.inputs[2].empty()) {
        const Tensor* v = constant_value(g, pad.inputs[2]);
        if (!v || v->type != DataType::float32 || v->element_count() != 1 || v->data<float>()[0] != 0.0f) continue;
      }
      if (pad.inputs.size() > 3 && !pad.inputs[3].empty()) continue;
    }
    if (pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5]) continue;
    bool negative = false;
    for (auto p : pads) negative = negative || p < 0;
    if (negative) continue;
    pool.attributes["pads"] = std::vector<int64_t>{pads[2], pads[3], pads[6], pads[7]};
    pool.attributes["count_include_pad"] = int64_t{1};
    pool.inputs[0] = pad.inputs[0];
    removed[it->second] = true;
  }
  erase_nodes(g, removed);
}

// A BatchNormalization or an activation that reads a Conv's only output folds into that Conv.
void fold_into_convs(Graph& g, int64_t opset) {
  auto counts = consumer_counts(g);
  auto producer = producers(g);
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.inputs.empty() || n.outputs.empty()) continue;  // hostile files have nodes without outputs
    auto it = producer.find(n.inputs[0]);
    if (it == producer.end() || removed[it->second]) continue;
    Node& conv = g.nodes[it->second];
    if (conv.op_type != "Conv" || counts[n.inputs[0]] != 1 || conv.outputs.size() != 1) continue;
    bool fused = false;
    // BN(conv(x) + r) is not a conv with new weights: a conv with a fused residual takes no BN.
    if (n.op_type == "BatchNormalization" && !conv.has_attr("_activation") && !conv.has_attr("_residual") &&
        n.outputs.size() == 1) {
      fused = fold_batch_norm(g, conv, n);
    } else {
      std::string act;
      float alpha, beta;
      if (!conv.has_attr("_activation") && fusable_activation(g, n, opset, act, alpha, beta)) {
        conv.attributes["_activation"] = act;
        conv.attributes["_alpha"] = alpha;
        conv.attributes["_beta"] = beta;
        fused = true;
      }
    }
    if (fused) {
      conv.outputs[0] = n.outputs[0];
      producer[n.outputs[0]] = it->second;
      removed[i] = true;
    }
  }
  erase_nodes(g, removed);
}

// A Relu that reads the only output of a BatchNormalization left standing (DenseNet's pre-activation BN -> ReLU)
// becomes the BN's "_activation": oneDNN's batch norm applies it on the way out (fuse_norm_relu).
void fuse_relu_into_batch_norms(Graph& g) {
  auto counts = consumer_counts(g);
  auto producer = producers(g);
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& relu = g.nodes[i];
    if (relu.op_type != "Relu" || relu.inputs.size() != 1 || relu.outputs.size() != 1) continue;
    auto it = producer.find(relu.inputs[0]);
    if (it == producer.end() || removed[it->second] || counts[relu.inputs[0]] != 1) continue;
    Node& bn = g.nodes[it->second];
    if (bn.op_type != "BatchNormalization" || bn.outputs.size() != 1 || bn.has_attr("_activation")) continue;
    bn.attributes["_activation"] = std::string("Relu");
    bn.outputs[0] = relu.outputs[0];
    producer[relu.outputs[0]] = it->second;
    removed[i] = true;
  }
  erase_nodes(g, removed);
}

// Add(conv(x), r) where the Add is the conv's only consumer becomes the conv with r as a fused residual
// (input 3, attribute "_residual"): oneDNN adds r as a binary post-op while the output is still in registers,
// instead of a separate pass over memory (ResNet50: 13% of the time went to Add and the Relu after it).
// The conv moves to the Add's place in the node order, where r has certainly been computed.
bool fuse_residual_adds(Graph& g) {
  auto counts = consumer_counts(g);
  auto producer = producers(g);
  std::vector<bool> removed(g.nodes.size(), false);
  bool any = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& add = g.nodes[i];
    if (add.op_type != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    for (size_t k = 0; k < 2; ++k) {
      const std::string& from_conv = add.inputs[k];
      const std::string& residual = add.inputs[1 - k];
      auto it = producer.find(from_conv);
      if (it == producer.end() || removed[it->second] || residual == from_conv || g.initializers.count(residual))
        continue;
      const Node& conv = g.nodes[it->second];
      if (conv.op_type != "Conv" || conv.outputs.size() != 1 || counts[from_conv] != 1 ||
          conv.has_attr("_activation") || conv.has_attr("_residual") || conv.inputs.size() < 2 || conv.inputs.size() > 3)
        continue;
      Node fused = conv;
      fused.inputs.resize(3);  // an absent bias stays "" (omitted)
      fused.inputs.push_back(residual);
      fused.attributes["_residual"] = int64_t{1};
      fused.outputs[0] = add.outputs[0];
      removed[it->second] = true;
      g.nodes[i] = std::move(fused);
      producer[g.nodes[i].outputs[0]] = i;
      any = true;
      break;
    }
  }
  erase_nodes(g, removed);
  return any;
}

// AveragePool(x) -> 1x1 Conv(W, b) -> act, where the conv maps C channels to M < C, becomes
// Conv(W)(x) -> AveragePool with b added and act applied (input 1 "_bias", and the conv's "_activation").
// Both are linear, one across channels at each pixel and one across pixels in each channel, so they commute
// exactly, padding included (zero pixels map to zero without the bias); the pool then averages M channels
// instead of C. In InceptionV3 every block's pool branch is such a pair (768 -> 192 channels at 17x17), and its
// pools were 3-5% of the time.
void sink_average_pools_below_pointwise_convs(Graph& g) {
  auto counts = consumer_counts(g);
  auto producer = producers(g);
  auto all_equal = [](const Node& n, const char* attr, int64_t value) {
    for (auto v : n.attr_ints(attr, {})) if (v != value) return false;
    return true;
  };
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& conv = g.nodes[k];
    if (conv.op_type != "Conv" || conv.inputs.size() < 2 || conv.inputs.size() > 3 || conv.outputs.size() != 1 ||
        conv.has_attr("_residual") || conv.attr_int("group", 1) != 1 || !is_float_const(g, conv.inputs[1]))
      continue;
    if (conv.inputs.size() == 3 && !conv.inputs[2].empty() && !is_float_const(g, conv.inputs[2])) continue;
    const Tensor& w = g.initializers.at(conv.inputs[1]);
    if (w.shape.size() != 4 || w.shape[2] != 1 || w.shape[3] != 1 || w.shape[0] >= w.shape[1]) continue;
    if (!all_equal(conv, "strides", 1) || !all_equal(conv, "pads", 0) || !all_equal(conv, "kernel_shape", 1)) continue;
    auto it = producer.find(conv.inputs[0]);
    if (it == producer.end() || counts[conv.inputs[0]] != 1) continue;
    Node& pool = g.nodes[it->second];
    if (pool.op_type != "AveragePool" || pool.inputs.size() != 1 || pool.outputs.size() != 1 ||
        pool.attr_ints("kernel_shape", {}).size() != 2 || !all_equal(pool, "dilations", 1))
      continue;
    // The conv moves to the pool's place (its input x is ready there) and the pool to the conv's.
    Node pointwise = conv;
    pointwise.inputs = {pool.inputs[0], conv.inputs[1]};
    for (const char* fused : {"_activation", "_alpha", "_beta"}) pointwise.attributes.erase(fused);
    pointwise.outputs = {fresh_name(g, conv.name + "/before_pool")};
    Node pooled = pool;
    pooled.inputs = {pointwise.outputs[0]};
    if (conv.inputs.size() == 3 && !conv.inputs[2].empty()) {
      pooled.inputs.push_back(conv.inputs[2]);
      pooled.attributes["_bias"] = int64_t{1};
    }
    for (const char* fused : {"_activation", "_alpha", "_beta"})
      if (conv.has_attr(fused)) pooled.attributes[fused] = conv.attributes.at(fused);
    pooled.outputs = conv.outputs;
    const size_t p = it->second;
    producer.erase(it);
    g.nodes[p] = std::move(pointwise);
    g.nodes[k] = std::move(pooled);  // `conv` and `pool` refer to the new nodes from here on
  }
}

}  // namespace

std::string resolve_layer(const Graph& g, const std::string& layer) {
  for (const auto& in : g.inputs) if (in.name == layer) return layer;
  for (const auto& n : g.nodes)
    for (const auto& out : n.outputs) if (out == layer) return layer;
  for (const auto& n : g.nodes) if (n.name == layer && !n.outputs.empty()) return n.outputs[0];
  std::string examples;
  for (size_t i = g.nodes.size(), k = 0; i-- > 0 && k < 5; ++k) examples += (k ? ", " : "") + g.nodes[i].outputs.at(0);
  fail("{}: no layer or tensor named '{}' (e.g. {})", g.source.path, layer, examples);
}

void cut_graph(Graph& g, const std::vector<std::string>& outputs) {
  if (outputs.empty()) return;
  std::vector<ValueInfo> new_outputs;
  std::set<std::string> needed;
  for (const auto& o : outputs) {
    std::string name = resolve_layer(g, o);
    ValueInfo info;
    info.name = name;
    for (const auto& existing : g.outputs) if (existing.name == name) info = existing;
    new_outputs.push_back(info);
    needed.insert(name);
  }
  std::vector<Node> kept;
  for (size_t i = g.nodes.size(); i-- > 0;) {
    Node& n = g.nodes[i];
    bool used = false;
    for (const auto& out : n.outputs) used = used || needed.count(out);
    if (!used) continue;
    for (const auto& in : n.inputs) needed.insert(in);
    kept.push_back(std::move(n));
  }
  g.nodes.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
  g.outputs = std::move(new_outputs);
  std::vector<ValueInfo> inputs;
  for (auto& in : g.inputs) if (needed.count(in.name)) inputs.push_back(in);
  g.inputs = std::move(inputs);
  for (auto it = g.initializers.begin(); it != g.initializers.end();)
    it = needed.count(it->first) ? std::next(it) : g.initializers.erase(it);
}

std::string pool_output(Graph& g, const std::string& output, int64_t output_rank, const std::string& pool) {
  if (pool != "avg" && pool != "max" && pool != "none") usage_fail("--pool must be avg, max or none, not '{}'", pool);
  if (pool == "none" || output_rank != 4) return output;
  std::string spatial = output;
  auto layout = g.metadata.find("input_layout");
  if (layout != g.metadata.end() && layout->second == "nhwc") {
    // Keras graphs keep layer values in NHWC: back to NCHW for the (ONNX-semantics) global pool.
    Node t;
    t.name = fresh_name(g, output + "/to_nchw");
    t.op_type = "Transpose";
    t.inputs = {output};
    t.outputs = {t.name};
    t.attributes["perm"] = std::vector<int64_t>{0, 3, 1, 2};
    g.nodes.push_back(t);
    spatial = t.name;
  }
  Node p;
  p.name = fresh_name(g, output + "/global_" + pool + "_pool");
  p.op_type = pool == "avg" ? "GlobalAveragePool" : "GlobalMaxPool";
  p.inputs = {spatial};
  p.outputs = {p.name};
  g.nodes.push_back(p);
  Node f;
  f.name = fresh_name(g, output + "/pooled");
  f.op_type = "Flatten";
  f.inputs = {p.name};
  f.outputs = {f.name};
  g.nodes.push_back(f);
  for (auto& o : g.outputs)
    if (o.name == output) o = ValueInfo{f.name, DataType::float32, {}};
  return f.name;
}

void simplify_for_inference(Graph& g) {
  int64_t opset = g.source.opset;
  // Identity / Dropout: consumers read the input directly.
  {
    auto counts = consumer_counts(g);
    // Decided before any node moves: inference_dropout reads the ratio from Constant nodes anywhere in the graph
    // (decided inside the moving loop, a Dropout after its Constant found it moved-from, and Swin's 24 attention
    // dropouts ran on the reference kernel, each a copy to the host and back).
    std::vector<bool> passthrough(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i)
      passthrough[i] = g.nodes[i].op_type == "Identity" ||
                       (g.nodes[i].op_type == "Dropout" && inference_dropout(g, g.nodes[i], counts));
    std::vector<Node> kept;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      Node& n = g.nodes[i];
      if (passthrough[i] && !n.inputs.empty() && !n.outputs.empty() && counts[n.outputs[0]] < 1000) {
        rename_input(g, n.outputs[0], n.inputs[0]);
        continue;
      }
      kept.push_back(std::move(n));
    }
    g.nodes = std::move(kept);
  }
  fold_transformer_patterns(g, opset);
  fold_pad_into_average_pool(g, opset);
  fold_into_convs(g, opset);
  // After BN folding, so conv -> BN -> Add -> Relu becomes one conv: residual sum, then the activation.
  if (fuse_residual_adds(g)) fold_into_convs(g, opset);
  sink_average_pools_below_pointwise_convs(g);
  fuse_relu_into_batch_norms(g);
  for (auto it = g.initializers.begin(); it != g.initializers.end();) {
    bool used = false;
    for (const auto& n : g.nodes) for (const auto& in : n.inputs) used = used || in == it->first;
    it = used ? std::next(it) : g.initializers.erase(it);
  }
}

std::string default_feature_layer(const Graph& g) {
  // An importer that knows better says so (nsfwjs' InceptionV3: mixed5, the last layer with ImageNet weights).
  auto declared = g.metadata.find("default_feature_layer");
  if (declared != g.metadata.end() && !declared->second.empty()) return resolve_layer(g, declared->second);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    if ((n.op_type == "Gemm" || n.op_type == "MatMul") && !n.inputs.empty() && !g.initializers.count(n.inputs[0]))
      return n.inputs[0];
  }
  return g.outputs.at(0).name;
}

}  // namespace xfer::nn
