// The transformer families' oneDNN paths against the reference kernels (fixed seeds): matmul (by a constant
// matrix with a fused bias and GELU, and between activations, batched with broadcasting), softmax, layer
// normalization, GELU and the other eltwise ops, and the data movement between them (views, slices, gathers,
// concats along later axes); and the passes that fold exporters' written-out forms back into those ops, checked
// against the reference kernels on the graph as written.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernel_case.h"
#include "nn/model.h"
#include "nn/reference_ops.h"

using namespace xfer::nn;
using namespace xfer::nn::testing;

namespace {

Tensor scalar(float v) {
  Tensor t = Tensor::zeros(DataType::float32, {});
  t.mutable_data<float>()[0] = v;
  return t;
}

Tensor ints(std::vector<int64_t> values) {
  Tensor t = Tensor::zeros(DataType::int64, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.mutable_data<int64_t>());
  return t;
}

void expect_fast(const Case& c) {
  EXPECT_TRUE(c.slow_primitives.empty()) << fmt::format("{}", fmt::join(c.slow_primitives, "; "));
}

// The op types of the graph after the passes.
std::vector<std::string> ops_after_passes(const Graph& g) {
  std::vector<std::string> ops;
  auto model = Model::compile(g, CompileOptions{});
  for (const auto& n : model->graph().nodes) ops.push_back(n.op_type);
  return ops;
}

// The graph input through a MatMul by a random [n, n] matrix: on the device from there on, as a transformer's
// values are after its patch embedding (a plain graph input stays on the host for cheap elementwise ops).
void on_device(Case& c, int64_t n, const std::string& out) {
  c.weight("w_in", {n, n}, 99);
  c.add(node("MatMul", {"x", "w_in"}, out));
}

bool has(const std::vector<std::string>& ops, const std::string& op) {
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

}  // namespace

// ViT's MLP: [batch, tokens, 64] x [64, 96] + bias, GELU (its Erf form), then back to 64 with a bias.
TEST(OneDnnMatMul, ByConstantWeightsWithBiasAndGeluFused) {
  Case c({2, 7, 64}, 1);
  c.weight("w1", {64, 96}, 2);
  c.weight("b1", {96}, 3);
  c.weight("w2", {96, 64}, 4);
  c.weight("b2", {64}, 5);
  c.g.initializers["sqrt2"] = scalar(std::sqrt(2.0f));
  c.g.initializers["one"] = scalar(1.0f);
  c.g.initializers["half"] = scalar(0.5f);
  c.add(node("MatMul", {"x", "w1"}, "mm1"));
  c.add(node("Add", {"b1", "mm1"}, "h"));
  c.add(node("Div", {"h", "sqrt2"}, "scaled"));
  c.add(node("Erf", {"scaled"}, "erf"));
  c.add(node("Add", {"erf", "one"}, "erf1"));
  c.add(node("Mul", {"h", "erf1"}, "prod"));
  c.add(node("Mul", {"prod", "half"}, "gelu"));
  c.add(node("MatMul", {"gelu", "w2"}, "mm2"));
  c.add(node("Add", {"mm2", "b2"}, "y"));
  c.output("y");
  const auto ops = ops_after_passes(c.g);
  EXPECT_EQ(ops, (std::vector<std::string>{"MatMul", "MatMul"})) << fmt::format("{}", fmt::join(ops, ","));
  c.check("mm1", /*optimize=*/true);
  expect_fast(c);
}

TEST(OneDnnMatMul, Bf16WithinOnePercent) {
  XFER_SKIP_WITHOUT_NATIVE_BF16();
  Case c({3, 5, 32}, 6);
  c.weight("w", {32, 48}, 7);
  c.weight("b", {48}, 8);
  c.add(node("MatMul", {"x", "w"}, "mm"));
  c.add(node("Add", {"mm", "b"}, "y"));
  c.output("y");
  c.check("mm", true, 1e-2, Precision::bf16);
}

// Attention's products: [B, heads, T, d] x [B, heads, d, T], and a [heads, T, T] bias broadcast over the batch.
TEST(OneDnnMatMul, BetweenActivationsBatchedAndBroadcast) {
  Case c({2, 3, 10, 8}, 9);
  c.weight("k", {1, 3, 8, 10}, 10);
  c.add(node("Relu", {"x"}, "q"));
  c.add(node("Relu", {"k"}, "kk"));  // a computed (non-constant) operand
  c.add(node("MatMul", {"q", "kk"}, "y"));
  c.output("y");
  c.check("y");
  expect_fast(c);
}

// Along the last axis on oneDNN; along an inner one oneDNN 2.6 has only ref:any, so the reference kernel runs it.
TEST(OneDnnSoftmax, LastAxisAndInnerAxis) {
  for (int64_t axis : {-1, 2}) {
    SCOPED_TRACE(axis);
    Case c({2, 3, 10, 10}, 11);
    on_device(c, 10, "r");
    c.add(node("Softmax", {"r"}, "y", {{"axis", axis}}));
    c.output("y");
    c.check(axis == -1 ? "y" : "r");
    expect_fast(c);
  }
}

TEST(OneDnnLayerNorm, LastAxisAndLastTwo) {
  for (int64_t axis : {-1, -2}) {
    SCOPED_TRACE(axis);
    Case c({2, 9, 24}, 12);
    c.weight("scale", axis == -1 ? std::vector<int64_t>{24} : std::vector<int64_t>{9, 24}, 13, 0.5f, 1.5f);
    c.weight("shift", {24}, 14);
    on_device(c, 24, "r");
    c.add(node("LayerNormalization", {"r", "scale", "shift"}, "y", {{"axis", axis}, {"epsilon", 1e-5f}}));
    c.output("y");
    c.check("y");
    expect_fast(c);
  }
}

// Opset 13's LayerNorm written out (ConvNeXt, Swin, ViT): one LayerNormalization after the passes, equal to the
// reference kernels on the chain as written.
TEST(Passes, LayerNormChainFoldedIntoOneOp) {
  Case c({2, 5, 16}, 15);
  c.weight("gamma", {16}, 16, 0.5f, 1.5f);
  c.weight("beta", {16}, 17);
  c.g.initializers["two"] = scalar(2.0f);
  c.g.initializers["eps"] = scalar(1e-6f);
  std::map<std::string, Attribute> last_axis = {{"axes", std::vector<int64_t>{-1}}};
  on_device(c, 16, "r");
  c.add(node("ReduceMean", {"r"}, "mean", last_axis));
  c.add(node("Sub", {"r", "mean"}, "centred"));
  c.add(node("Pow", {"centred", "two"}, "square"));
  c.add(node("ReduceMean", {"square"}, "var", last_axis));
  c.add(node("Add", {"var", "eps"}, "var_eps"));
  c.add(node("Sqrt", {"var_eps"}, "std"));
  c.add(node("Div", {"centred", "std"}, "normed"));
  c.add(node("Mul", {"normed", "gamma"}, "scaled"));
  c.add(node("Add", {"scaled", "beta"}, "y"));
  c.output("y");
  const auto ops = ops_after_passes(c.g);
  EXPECT_EQ(ops, (std::vector<std::string>{"MatMul", "LayerNormalization"})) << fmt::format("{}", fmt::join(ops, ","));
  c.check("y", /*optimize=*/true);
}

// MaxViT's attention einsums become MatMuls (the second with its operand transposed).
TEST(Passes, MatrixProductEinsumsBecomeMatMuls) {
  for (std::string eq : {"B G H I J, B G H J D -> B G H I D", "bhid,bhjd->bhij"}) {
    SCOPED_TRACE(eq);
    const bool five = eq[0] == 'B';
    Case c(five ? std::vector<int64_t>{2, 3, 2, 6, 6} : std::vector<int64_t>{2, 3, 6, 4}, 18);
    c.weight("v", five ? std::vector<int64_t>{2, 3, 2, 6, 4} : std::vector<int64_t>{2, 3, 5, 4}, 19);
    c.add(node("Relu", {"x"}, "r"));
    c.add(node("Einsum", {"r", "v"}, "y", {{"equation", eq}}));
    c.output("y");
    const auto ops = ops_after_passes(c.g);
    EXPECT_FALSE(has(ops, "Einsum")) << fmt::format("{}", fmt::join(ops, ","));
    c.check("y", /*optimize=*/true);
  }
}

TEST(OneDnnEltwise, GeluSqrtExpPowNeg) {
  for (std::string op : {"Gelu", "Sqrt", "Exp", "Pow", "Neg", "Abs"}) {
    SCOPED_TRACE(op);
    Case c({2, 4, 6, 5}, 20);
    c.g.initializers["e"] = scalar(3.0f);
    on_device(c, 5, "m");
    c.add(node("Relu", {"m"}, "r"));  // Sqrt needs x >= 0
    c.add(op == "Pow" ? node("Pow", {"r", "e"}, "y") : node(op, {"r"}, "y"));
    c.output("y");
    c.check("y");
    expect_fast(c);
  }
}

// Reshape of a conv's blocked output, then a channel split (ShuffleNetV2) and a slice of a later axis of a plain
// value (Swin's roll): views and sub-memory reorders, no host copies.
TEST(OneDnnShape, ViewsAndSlicesOnTheDevice) {
  Case c({2, 32, 6, 6}, 21);
  c.weight("w", {32, 32, 1, 1}, 22);
  c.g.initializers["shape"] = ints({2, 2, 16, 36});
  c.g.initializers["starts"] = ints({16});
  c.g.initializers["ends"] = ints({32});
  c.g.initializers["axes"] = ints({1});
  c.g.initializers["starts2"] = ints({1});
  c.g.initializers["ends2"] = ints({1000});
  c.g.initializers["axes2"] = ints({3});
  c.add(node("Conv", {"x", "w"}, "conv"));
  c.add(node("Slice", {"conv", "starts", "ends", "axes"}, "half"));
  c.add(node("Reshape", {"conv", "shape"}, "grouped"));
  c.add(node("Slice", {"grouped", "starts2", "ends2", "axes2"}, "rolled"));
  c.add(node("Flatten", {"rolled"}, "flat", {{"axis", int64_t{1}}}));
  c.add(node("Flatten", {"half"}, "flat_half", {{"axis", int64_t{1}}}));
  c.add(node("Concat", {"flat", "flat_half"}, "y", {{"axis", int64_t{1}}}));
  c.output("y");
  c.check("rolled");  // only if the Reshape before it kept the value on the device
  expect_fast(c);
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  auto ran = run.onednn_nodes();
  EXPECT_NE(std::find(ran.begin(), ran.end(), "half"), ran.end()) << "the channel split did not run on oneDNN";
}

// ViT's class token: Gather of index 0 along the tokens of a device value, in its plain layout a view (no step).
TEST(OneDnnShape, GatherOfOneIndex) {
  Case c({3, 5, 8}, 23);
  Tensor zero = Tensor::zeros(DataType::int64, {});
  c.g.initializers["i"] = zero;
  on_device(c, 8, "r");
  c.add(node("Gather", {"r", "i"}, "token", {{"axis", int64_t{1}}}));
  c.add(node("Softmax", {"token"}, "y", {{"axis", int64_t{-1}}}));
  c.output("y");
  c.check("y");
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  EXPECT_EQ(run.node_precisions().count("token"), 0u) << "the Gather ran as a step";
}

// Swin's and ViT's attention core as torchvision exports it, from "qkv" [windows, tokens, 3 * heads * dim] to "y":
// q, k and v gathered out of the transposed projection output, q times `scale` (a value the caller defines; nodes
// computing it may read "k"), the keys transposed, the scores' weighting of the values transposed back and the heads
// merged. `add_scale` adds the nodes that compute the scale.
void add_attention(Case& c, int64_t windows, int64_t tokens, int64_t heads, int64_t dim,
                   const std::function<void()>& add_scale) {
  c.g.initializers["qkv_shape"] = ints({windows, tokens, 3, heads, dim});
  c.g.initializers["merged_shape"] = ints({windows, tokens, heads * dim});
  for (int64_t i = 0; i < 3; ++i) {
    Tensor index = Tensor::zeros(DataType::int64, {});
    index.mutable_data<int64_t>()[0] = i;
    c.g.initializers[fmt::format("i{}", i)] = index;
  }
  on_device(c, 3 * heads * dim, "qkv");
  c.add(node("Reshape", {"qkv", "qkv_shape"}, "split"));
  c.add(node("Transpose", {"split"}, "parts", {{"perm", std::vector<int64_t>{2, 0, 3, 1, 4}}}));
  c.add(node("Gather", {"parts", "i0"}, "q", {{"axis", int64_t{0}}}));
  c.add(node("Gather", {"parts", "i1"}, "k", {{"axis", int64_t{0}}}));
  c.add(node("Gather", {"parts", "i2"}, "v", {{"axis", int64_t{0}}}));
  add_scale();
  c.add(node("Mul", {"q", "scale"}, "q_scaled"));
  c.add(node("Transpose", {"k"}, "k_t", {{"perm", std::vector<int64_t>{0, 1, 3, 2}}}));
  c.add(node("MatMul", {"q_scaled", "k_t"}, "scores"));
  c.add(node("Softmax", {"scores"}, "weights", {{"axis", int64_t{-1}}}));
  c.add(node("MatMul", {"weights", "v"}, "mixed"));
  c.add(node("Transpose", {"mixed"}, "by_token", {{"perm", std::vector<int64_t>{0, 2, 1, 3}}}));
  c.add(node("Reshape", {"by_token", "merged_shape"}, "y"));
  c.output("y");
}

// The attention core with a constant query scale. The gathers and transposes are views; the matmuls read the
// transposed keys and write the merged heads themselves (fp32), and the scale is the scores' output scale: of the 5
// copies this once took (3 gathers, the keys' transpose, the merged heads), one is left.
TEST(OneDnnMatMul, AttentionOnStridedPartsOfTheProjection) {
  Case c({3, 7, 3 * 2 * 4}, 40);
  add_attention(c, 3, 7, 2, 4, [&] { c.g.initializers["scale"] = scalar(0.5f); });
  c.check("mixed");
  expect_fast(c);
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  const auto ran = run.node_precisions();
  for (const char* view : {"q", "k", "v", "k_t", "by_token", "y"}) EXPECT_EQ(ran.count(view), 0u) << view << " ran as a step";
  EXPECT_EQ(ran.count("scores"), 1u);
  // The copy left: v, which oneDNN's matmul reads faster copied than strided.
  EXPECT_LE(reorders_in_a_run(c), 1) << "copies around the attention matmuls";
}

// Swin's query scale as torchvision's trace writes it, head_dim ** -0.5 computed from a shape (Shape, Gather, Cast,
// Pow): known at plan time, folded into the scores' matmul as its output scale, so neither the Mul's pass over q nor
// the copies of the strided q into and out of its layout remain. A computed scale that is not one value (here k's
// shape as floats, broadcast along q's last axis) is folded too and left to the reference kernel, which scales q
// first: still the graph's answer.
TEST(Passes, QueryScaleFoldedIntoTheScoresMatMul) {
  for (bool one_value : {true, false}) {
    SCOPED_TRACE(one_value);
    const int64_t windows = 3, tokens = 7, heads = 2, dim = 4;
    Case c({windows, tokens, 3 * heads * dim}, 42);
    add_attention(c, windows, tokens, heads, dim, [&] {
      Tensor last = Tensor::zeros(DataType::int64, {});
      last.mutable_data<int64_t>()[0] = 3;
      c.g.initializers["last_axis"] = last;
      c.g.initializers["minus_half"] = scalar(-0.5f);
      c.add(node("Shape", {"k"}, "k_shape"));
      if (one_value) {
        c.add(node("Gather", {"k_shape", "last_axis"}, "head_dim", {{"axis", int64_t{0}}}));
        c.add(node("Cast", {"head_dim"}, "head_dim_f", {{"to", int64_t{1}}}));
        c.add(node("Pow", {"head_dim_f", "minus_half"}, "scale"));
      } else {
        c.add(node("Cast", {"k_shape"}, "scale", {{"to", int64_t{1}}}));
      }
    });
    const auto ops = ops_after_passes(c.g);
    EXPECT_FALSE(has(ops, "Mul")) << fmt::format("{}", fmt::join(ops, ","));
    c.check("mixed", /*optimize=*/true);
    if (!one_value) continue;
    c.check("scores", /*optimize=*/true);
    expect_fast(c);
    EXPECT_LE(reorders_in_a_run(c), 1) << "copies around the attention matmuls";
    c.check("scores", /*optimize=*/true, 2e-2, Precision::bf16);
  }
}

// Swin's crop back to the unpadded size when nothing was padded: a Slice that keeps everything is its input.
TEST(OneDnnShape, SliceOfEverythingIsTheInputItself) {
  Case c({2, 5, 8}, 41);
  c.g.initializers["starts"] = ints({0, 0});
  c.g.initializers["ends"] = ints({5, 1000});
  c.g.initializers["axes"] = ints({1, 2});
  on_device(c, 8, "r");
  c.add(node("Slice", {"r", "starts", "ends", "axes"}, "s"));
  c.add(node("Softmax", {"s"}, "y", {{"axis", int64_t{-1}}}));
  c.output("y");
  c.check("y");
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  EXPECT_EQ(run.node_precisions().count("s"), 0u) << "the Slice ran as a step";
}

// Swin's roll (torch.roll exports as Slice + Slice + Concat per axis): the concat is written in place along H and W,
// at batch 1 and above: each Slice's copy goes straight to its piece of the output, a contiguous run (along H of
// one image) or through the output's strides (along W, or with a batch above 1), and the concat copies nothing.
TEST(OneDnnConcat, RollAlongLaterAxesWrittenInPlace) {
  for (int64_t batch : {1, 2}) {
    for (int64_t axis : {1, 2}) {
      SCOPED_TRACE(fmt::format("batch {}, axis {}", batch, axis));
      Case c({batch, 6, 7, 8}, 24);
      c.g.initializers["s0"] = ints({0});
      c.g.initializers["s3"] = ints({3});
      c.g.initializers["end"] = ints({1000});
      c.g.initializers["ax"] = ints({axis});
      on_device(c, 8, "r");
      c.add(node("Slice", {"r", "s3", "end", "ax"}, "tail"));
      c.add(node("Slice", {"r", "s0", "s3", "ax"}, "head"));
      c.add(node("Concat", {"tail", "head"}, "y", {{"axis", axis}}));
      c.output("y");
      c.check("tail");
      c.check("tail", /*optimize=*/false, 1e-2, Precision::bf16);
      xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
      run.forward({{"x", c.x}});
      EXPECT_EQ(run.onednn_kernels()["y"], "in place (no copy)");
    }
  }
}

// Swin's patch merging as torchvision exports x[..., i::2, j::2, :]: a Slice with step 2 along H, then one along W,
// the four parts concatenated along the channels. The steps are strides of views on the device (no reference kernel
// and no copy to the host), the second Slice's reorder writes its part straight into the concat's output.
TEST(OneDnnShape, SlicesWithStepsOnTheDeviceIntoAnInPlaceConcat) {
  for (int64_t batch : {1, 2}) {
    for (Precision precision : {Precision::fp32, Precision::bf16}) {
      SCOPED_TRACE(fmt::format("batch {}, {}", batch, precision == Precision::bf16 ? "bf16" : "fp32"));
      Case c({batch, 6, 8, 4}, 50);
      c.g.initializers["zero"] = ints({0});
      c.g.initializers["one"] = ints({1});
      c.g.initializers["end"] = ints({1000});
      c.g.initializers["h"] = ints({1});
      c.g.initializers["w"] = ints({2});
      c.g.initializers["two"] = ints({2});
      on_device(c, 4, "r");
      std::vector<std::string> parts;
      for (int i = 0; i < 2; ++i) {
        const std::string rows = fmt::format("rows{}", i);
        c.add(node("Slice", {"r", i ? "one" : "zero", "end", "h", "two"}, rows));
        for (int j = 0; j < 2; ++j) {
          parts.push_back(fmt::format("part{}{}", i, j));
          c.add(node("Slice", {rows, j ? "one" : "zero", "end", "w", "two"}, parts.back()));
        }
      }
      c.add(node("Concat", parts, "y", {{"axis", int64_t{-1}}}));
      c.output("y");
      c.check("part11", /*optimize=*/false, precision == Precision::bf16 ? 1e-2 : 1e-6, precision);
      CompileOptions options;
      options.precision = precision;
      xfer::nn::Run run(Model::compile(c.g, options));
      run.forward({{"x", c.x}});
      for (const auto& [name, ran] : run.node_precisions())
        EXPECT_EQ(ran.find("reference"), std::string::npos) << name << " ran on the reference kernel";
      EXPECT_EQ(run.onednn_kernels()["y"], "in place (no copy)");
    }
  }
}

// EfficientNet's SiLU (x * Sigmoid(x)) and MobileNetV3's Hardswish as opset 13 writes it (x * HardSigmoid(x; 1/6,
// 1/2)) fold into Swish and HardSwish and then into their convolutions: 10 channels, as in EfficientNet-B0's first
// squeeze-excitation, whose standalone Sigmoid on a padded nChw16c value ran on oneDNN's ref:any.
namespace {
Case gated_activations_case() {
  Case c({2, 10, 7, 7}, 31);
  c.weight("w1", {10, 10, 3, 3}, 32);
  c.weight("w2", {10, 10, 1, 1}, 33);
  c.add(node("Conv", {"x", "w1"}, "c", {{"kernel_shape", std::vector<int64_t>{3, 3}},
                                         {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Sigmoid", {"c"}, "gate"));
  c.add(node("Mul", {"c", "gate"}, "a"));
  c.add(node("Conv", {"a", "w2"}, "d", {{"kernel_shape", std::vector<int64_t>{1, 1}}}));
  c.add(node("HardSigmoid", {"d"}, "hard", {{"alpha", 1.0f / 6}, {"beta", 0.5f}}));
  c.add(node("Mul", {"hard", "d"}, "y"));
  c.output("y");
  return c;
}
}  // namespace

TEST(Passes, GatedActivationsFoldIntoTheirConvolutions) {
  Case c = gated_activations_case();
  const auto ops = ops_after_passes(c.g);
  EXPECT_EQ(ops, (std::vector<std::string>{"Conv", "Conv"})) << fmt::format("{}", fmt::join(ops, ","));
  c.check("d", /*optimize=*/true);
  expect_fast(c);
}
TEST(Passes, GatedActivationsFoldedBf16WithinTwoPercent) {
  XFER_SKIP_WITHOUT_NATIVE_BF16();
  gated_activations_case().check("d", /*optimize=*/true, 2e-2, Precision::bf16);
}

// A Sigmoid whose input is not the Mul's other operand is a gate, not SiLU: left alone (and still right).
TEST(Passes, SigmoidGateOfAnotherValueIsNotSwish) {
  Case c({2, 10, 7, 7}, 34);
  c.weight("w1", {10, 10, 1, 1}, 35);
  c.add(node("Conv", {"x", "w1"}, "c", {{"kernel_shape", std::vector<int64_t>{1, 1}}}));
  c.add(node("Sigmoid", {"x"}, "gate"));
  c.add(node("Mul", {"c", "gate"}, "y"));
  c.output("y");
  const auto ops = ops_after_passes(c.g);
  EXPECT_TRUE(has(ops, "Sigmoid") && has(ops, "Mul")) << fmt::format("{}", fmt::join(ops, ","));
  c.check("c", /*optimize=*/true);
}

// ViT's class token at batch 1: [1,1,8] (a constant expanded to the batch) beside the [1,4,8] patch tokens along
// axis 1. Left to choose, oneDNN laid the [1,5,8] result out as "bac" and concatenated it on ref:any.
TEST(OneDnnConcat, ClassTokenAtBatchOneOnAFastKernel) {
  Case c({1, 4, 8}, 36);
  c.weight("cls", {1, 1, 8}, 37);
  c.g.initializers["cls_shape"] = ints({1, 1, 8});
  on_device(c, 8, "tokens");
  c.add(node("Expand", {"cls", "cls_shape"}, "cls_b"));
  c.add(node("Concat", {"cls_b", "tokens"}, "seq", {{"axis", int64_t{1}}}));
  c.add(node("Transpose", {"seq"}, "y", {{"perm", std::vector<int64_t>{1, 0, 2}}}));
  c.output("y");
  c.check("seq");
  expect_fast(c);
}

// Swin's shifted-window mask: scores [batch, windows, heads, N, N] plus a constant [1, windows, 1, N, N]. oneDNN's
// jit binary has no kernel for that broadcast (ref:any, 60-70 ms a call in Swin-T at batch 1); the constant is
// repeated along the heads (and the batch when needed) at plan time.
TEST(OneDnnBinary, MaskBroadcastOverHeadsOnAFastKernel) {
  for (auto op : {"Add", "Mul"}) {
    SCOPED_TRACE(op);
    Case c({2, 4, 3, 5, 5}, 38);
    c.weight("mask", {1, 4, 1, 5, 5}, 39);
    on_device(c, 5, "scores");
    c.add(node(op, {"scores", "mask"}, "y"));
    c.output("y");
    c.check("y");
    expect_fast(c);
  }
}

// Swin's attention dropout, exported in training mode with p = 0, its ratio a Constant node before it: the
// identity, removed by the passes (it once stayed, a reference kernel and a copy to the host and back).
TEST(Passes, TrainingModeDropoutOfRatioZeroIsRemoved) {
  Case c({2, 8}, 31);
  Tensor yes = Tensor::zeros(DataType::boolean, {});
  yes.mutable_data<bool>()[0] = true;
  c.add(node("Constant", {}, "ratio", {{"value", scalar(0.0f)}}));
  c.add(node("Constant", {}, "training", {{"value", yes}}));
  c.add(node("Relu", {"x"}, "r"));
  Node dropout = node("Dropout", {"r", "ratio", "training"}, "d");
  dropout.outputs.push_back("mask");  // unread
  c.add(dropout);
  c.add(node("Sigmoid", {"d"}, "y"));  // a graph output is never passed through
  c.output("y");
  c.g.source.opset = 13;
  EXPECT_FALSE(has(ops_after_passes(c.g), "Dropout"));
}

// Swin's window padding at 224x224 pads nothing: the device value itself, no step and no reference kernel.
TEST(OneDnnShape, PadOfZerosIsTheInputItself) {
  Case c({2, 5, 8}, 33);
  c.g.initializers["pads"] = ints({0, 0, 0, 0, 0, 0});
  on_device(c, 8, "r");
  c.add(node("Pad", {"r", "pads"}, "p"));
  c.add(node("Softmax", {"p"}, "y", {{"axis", int64_t{-1}}}));
  c.output("y");
  c.check("y");
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  EXPECT_EQ(run.node_precisions().count("p"), 0u) << "the Pad ran as a step";
}
