// Every oneDNN-backed op against its plain reference kernel (nn/reference_ops.cpp) on random data with a fixed
// seed, as ncnn tests its optimised layers. Each case asserts that the node really ran on oneDNN, so the test
// cannot silently compare the reference with itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernel_case.h"
#include "nn/model.h"
#include "nn/reference_ops.h"
#include "util/error.h"

using namespace xfer::nn;

namespace {

using namespace xfer::nn::testing;

Case conv_case(int64_t c_in, int64_t c_out, int64_t group, std::map<std::string, Attribute> attrs, bool bias = true,
               std::vector<int64_t> in = {2, 0, 13, 11}, int64_t k = 3) {
  in[1] = c_in;
  Case c(in, 7);
  c.weight("w", {c_out, c_in / group, k, k}, 11);
  std::vector<std::string> ins = {"x", "w"};
  if (bias) {
    c.weight("b", {c_out}, 12);
    ins.push_back("b");
  }
  attrs["group"] = group;
  c.add(node("Conv", ins, "y", attrs));
  c.output("y");
  return c;
}

}  // namespace

namespace {
// The reference kernels on the graph the passes rewrote (the path a node takes when oneDNN declines it) against
// the reference kernels on the graph as written.
void expect_rewritten_reference_equals_as_written(const Case& c) {
  CompileOptions rewritten, as_written;
  rewritten.reference_only = as_written.reference_only = true;
  as_written.optimize = false;
  auto got = to_float_vector(xfer::nn::Run(Model::compile(c.g, rewritten)).forward({{"x", c.x}}).at(0));
  auto want = to_float_vector(xfer::nn::Run(Model::compile(c.g, as_written)).forward({{"x", c.x}}).at(0));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << "element " << i;
}
}  // namespace

TEST(OneDnnConv, Plain) { conv_case(8, 16, 1, {}).check("y"); }
TEST(OneDnnConv, StridesPadsAsymmetric) {
  conv_case(16, 32, 1, {{"strides", std::vector<int64_t>{2, 2}}, {"pads", std::vector<int64_t>{1, 0, 2, 1}}}).check("y");
}
TEST(OneDnnConv, Dilations) { conv_case(16, 16, 1, {{"dilations", std::vector<int64_t>{2, 2}}, {"pads", std::vector<int64_t>{2, 2, 2, 2}}}).check("y"); }
TEST(OneDnnConv, Groups) { conv_case(16, 32, 4, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}).check("y"); }
// ResNeXt (4, 8, 16 and 32 channels per group) and RegNet (8, 24, 56, ...): groups that are not whole 16-channel
// blocks must run on jit kernels, not on oneDNN's ref:any (30-60x slower), and give the reference's answer.
TEST(OneDnnConv, GroupsOfAnyWidthRunOnJitKernels) {
  for (auto [channels, group, stride] : {std::tuple{128, 32, 1}, {64, 8, 2}, {96, 4, 1}, {48, 2, 1}}) {
    SCOPED_TRACE(fmt::format("{} channels in {} groups", channels, group));
    Case c = conv_case(channels, channels, group,
                       {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{stride, stride}}});
    c.check("y");
    EXPECT_TRUE(c.slow_primitives.empty()) << fmt::format("{}", fmt::join(c.slow_primitives, "; "));
  }
}

// RegNetY's squeeze-excitation after such a conv: the Mul of the conv's output (in nChw8c) by a per-channel
// [N,C,1,1] scale must not fall to ref:any either (oneDNN's jit binary wants one layout family for both), nor, in
// bf16, the pool (no bf16 jit pooling in nChw8c).
namespace {
Case squeeze_excitation_after_a_narrow_grouped_conv() {
  Case c({2, 64, 14, 14}, 3);
  c.weight("w", {64, 8, 3, 3}, 1);
  c.weight("w1", {16, 64, 1, 1}, 2);
  c.weight("w2", {64, 16, 1, 1}, 4);
  c.add(node("Conv", {"x", "w"}, "conv", {{"group", int64_t{8}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("GlobalAveragePool", {"conv"}, "pooled"));
  c.add(node("Conv", {"pooled", "w1"}, "squeeze"));
  c.add(node("Relu", {"squeeze"}, "squeeze_relu"));
  c.add(node("Conv", {"squeeze_relu", "w2"}, "excite"));
  c.add(node("Sigmoid", {"excite"}, "scale"));
  c.add(node("Mul", {"conv", "scale"}, "y"));
  c.output("y");
  return c;
}
}  // namespace
TEST(OneDnnBinary, SqueezeExcitationAfterANarrowGroupedConv) {
  Case c = squeeze_excitation_after_a_narrow_grouped_conv();
  c.check("y", /*optimize=*/true);
  EXPECT_TRUE(c.slow_primitives.empty()) << fmt::format("{}", fmt::join(c.slow_primitives, "; "));
}
TEST(OneDnnBinary, SqueezeExcitationAfterANarrowGroupedConvBf16) {
  XFER_SKIP_WITHOUT_NATIVE_BF16();
  Case c = squeeze_excitation_after_a_narrow_grouped_conv();
  c.check("pooled", /*optimize=*/true, 2e-2, Precision::bf16);
  EXPECT_TRUE(c.slow_primitives.empty()) << fmt::format("{}", fmt::join(c.slow_primitives, "; "));
}

// A concat of that conv's output (nChw8c) with a dense conv's (nChw16c) has only oneDNN's ref:any concat:
// the engine brings both to one layout first.
TEST(OneDnnConcat, NarrowGroupedConvBesideADenseOne) {
  for (int64_t batch : {1, 2}) {
    Case c({batch, 16, 9, 9}, 5);
    c.weight("wg", {8, 8, 3, 3}, 1);
    c.weight("wd", {16, 16, 1, 1}, 2);
    c.add(node("Conv", {"x", "wg"}, "grouped", {{"group", int64_t{2}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    c.add(node("Conv", {"x", "wd"}, "dense"));
    c.add(node("Concat", {"grouped", "dense"}, "y", {{"axis", int64_t{1}}}));
    c.output("y");
    c.check("grouped");
    EXPECT_TRUE(c.slow_primitives.empty()) << fmt::format("{}", fmt::join(c.slow_primitives, "; "));
  }
}

TEST(OneDnnConv, Depthwise) { conv_case(32, 32, 32, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}, false).check("y"); }
// MNASNet's and MobileNetV3's inverted residual with 24 channels inside (whole 8-blocks, not 16-blocks): the
// expansion writes nChw8c for the depthwise conv, which runs on a jit kernel there; padded to nChw16c it would go to
// nhwc and back. What is left is the output's reorder back to the plain layout (the input's is the host/device
// copy).
TEST(OneDnnConv, InvertedResidualOfEightChannelBlocksStaysInOneLayout) {
  Case c({2, 16, 14, 12}, 50);
  c.weight("w_expand", {24, 16, 1, 1}, 51);
  c.weight("w_depthwise", {24, 1, 3, 3}, 52);
  c.weight("w_project", {16, 24, 1, 1}, 53);
  c.add(node("Conv", {"x", "w_expand"}, "expanded"));
  c.add(node("Relu", {"expanded"}, "expanded_relu"));
  c.add(node("Conv", {"expanded_relu", "w_depthwise"}, "filtered",
             {{"group", int64_t{24}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Relu", {"filtered"}, "filtered_relu"));
  c.add(node("Conv", {"filtered_relu", "w_project"}, "y"));
  c.output("y");
  c.check("filtered", true);
  EXPECT_TRUE(c.slow_primitives.empty()) << fmt::format("{}", fmt::join(c.slow_primitives, "; "));
  EXPECT_LE(reorders_in_a_run(c), 1) << "reorders besides the output's";
}
TEST(OneDnnConv, AutoPadSameUpper) { conv_case(8, 8, 1, {{"auto_pad", std::string("SAME_UPPER")}, {"strides", std::vector<int64_t>{2, 2}}}).check("y"); }
TEST(OneDnnConv, AutoPadSameLower) { conv_case(8, 8, 1, {{"auto_pad", std::string("SAME_LOWER")}, {"strides", std::vector<int64_t>{2, 2}}}).check("y"); }
TEST(OneDnnConv, RgbInput1x7) {
  Case c = conv_case(3, 32, 1, {{"pads", std::vector<int64_t>{0, 3, 0, 3}}}, true, {1, 3, 17, 17}, 1);
  c.g.initializers["w"] = random_tensor({32, 3, 1, 7}, 3);
  c.check("y");
}

TEST(OneDnnConv, FusedActivations) {
  for (std::string act : {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish"}) {
    SCOPED_TRACE(act);
    Case c = conv_case(8, 16, 1, {{"_activation", act}, {"_alpha", act == "Clip" ? -0.2f : 0.1f},
                                   {"_beta", act == "Clip" ? 0.3f : 0.6f}});
    c.check("y");
  }
}

TEST(OneDnnConv, BatchNormFoldedAndReluFused) {
  Case c({2, 8, 9, 9}, 5);
  c.weight("w", {16, 8, 3, 3}, 1);
  c.batch_norm_weights(16);
  c.add(node("Conv", {"x", "w"}, "conv"));
  c.add(node("BatchNormalization", {"conv", "scale", "shift", "mean", "var"}, "bn", {{"epsilon", 1e-3f}}));
  c.add(node("Relu", {"bn"}, "y"));
  c.output("y");
  c.check("conv", /*optimize=*/true);
}

namespace {
// DenseNet's pre-activation: the BN reads a conv's activated output (here Conv -> Relu), so it cannot fold into
// a conv's weights and runs on its own, followed by a Relu.
Case standalone_batch_norm_case() {
  Case c({2, 8, 9, 9}, 5);
  c.weight("w", {32, 8, 3, 3}, 1);
  c.batch_norm_weights(32);
  c.add(node("Conv", {"x", "w"}, "conv", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Relu", {"conv"}, "act"));
  c.add(node("BatchNormalization", {"act", "scale", "shift", "mean", "var"}, "bn", {{"epsilon", 1e-3f}}));
  c.add(node("Relu", {"bn"}, "y"));
  c.output("y");
  return c;
}
}  // namespace

TEST(OneDnnBatchNorm, StandaloneAfterAnActivationWithItsReluFused) {
  Case c = standalone_batch_norm_case();
  c.check("bn", /*optimize=*/true);
  auto model = Model::compile(c.g, CompileOptions{});
  const auto& nodes = model->graph().nodes;
  EXPECT_EQ(std::count_if(nodes.begin(), nodes.end(), [](const Node& n) { return n.op_type == "Relu"; }), 0);
  expect_rewritten_reference_equals_as_written(c);
}
TEST(OneDnnBatchNorm, StandaloneBf16WithinOnePercent) {
  XFER_SKIP_WITHOUT_NATIVE_BF16();
  standalone_batch_norm_case().check("bn", /*optimize=*/true, 2e-2, Precision::bf16);
}

namespace {
// A ResNet bottleneck tail: conv -> BN -> Add(., shortcut) -> Relu, where the shortcut (a strided 1x1 conv, as
// ResNet's downsample) comes after the main conv in node order. `conv_first` picks the Add's operand order.
Case residual_case(bool conv_first) {
  Case c({2, 16, 10, 10}, 31);
  c.weight("w", {32, 16, 3, 3}, 1);
  c.weight("ws", {32, 16, 1, 1}, 2);
  c.batch_norm_weights(32);
  c.add(node("Conv", {"x", "w"}, "conv", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 2}}}));
  c.add(node("BatchNormalization", {"conv", "scale", "shift", "mean", "var"}, "bn"));
  c.add(node("Conv", {"x", "ws"}, "shortcut", {{"strides", std::vector<int64_t>{2, 2}}}));
  c.add(node("Add", conv_first ? std::vector<std::string>{"bn", "shortcut"} : std::vector<std::string>{"shortcut", "bn"}, "sum"));
  c.add(node("Relu", {"sum"}, "y"));
  c.output("y");
  return c;
}

size_t count_ops(const Graph& g, const std::string& op) {
  return static_cast<size_t>(std::count_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op_type == op; }));
}
}  // namespace

TEST(OneDnnConv, ResidualAddAndReluFusedAsPostOps) {
  for (bool conv_first : {true, false}) {
    SCOPED_TRACE(conv_first ? "Add(conv, shortcut)" : "Add(shortcut, conv)");
    Case c = residual_case(conv_first);
    c.check("conv", /*optimize=*/true);
    auto model = Model::compile(c.g, CompileOptions{});
    EXPECT_EQ(count_ops(model->graph(), "Add"), 0u);
    EXPECT_EQ(count_ops(model->graph(), "Relu"), 0u);
    EXPECT_EQ(count_ops(model->graph(), "BatchNormalization"), 0u);
  }
}

TEST(OneDnnConv, ResidualAddBf16WithinOnePercent) {
  XFER_SKIP_WITHOUT_NATIVE_BF16();
  residual_case(true).check("conv", /*optimize=*/true, 2e-2, Precision::bf16);
}

// Without native bf16 a bf16 request runs in fp32 (bf16 there is emulated or on oneDNN's reference kernels, slower
// than fp32): every node in fp32 and the fp32 plan's answer. On a CPU with native bf16 the bf16 tests above apply;
// the test_nn_kernels_avx2 run (ONEDNN_MAX_CPU_ISA=AVX2) checks this one on any CPU.
TEST(Engine, Bf16WithoutNativeInstructionsRunsInFp32) {
  if (cpu_kernels().bf16) GTEST_SKIP() << "this CPU has native bf16 (ISA " << effective_isa() << ")";
  Case c = residual_case(true);
  CompileOptions bf16;
  bf16.precision = Precision::bf16;
  auto model = Model::compile(c.g, bf16);
  EXPECT_EQ(model->options().precision, Precision::fp32);
  xfer::nn::Run got(model), want(Model::compile(c.g, CompileOptions{}));
  EXPECT_EQ(to_float_vector(got.forward({{"x", c.x}}).at(0)), to_float_vector(want.forward({{"x", c.x}}).at(0)));
  for (const auto& [node, precision] : got.node_precisions()) EXPECT_EQ(precision, "fp32") << node;
}

TEST(Engine, ResidualThatBroadcastsStaysCorrect) {
  // Add(conv, pooled) with a [N,C,1,1] operand: fused by the pass, but not a same-shape post-op, so the
  // engine must still produce ONNX's broadcasting sum (the reference kernel computes it).
  Case c({2, 16, 6, 6}, 32);
  c.weight("w", {16, 16, 1, 1}, 1);
  c.add(node("GlobalAveragePool", {"x"}, "pooled"));
  c.add(node("Conv", {"x", "w"}, "conv"));
  c.add(node("Add", {"conv", "pooled"}, "sum"));
  c.add(node("Relu", {"sum"}, "y"));
  c.output("y");
  c.check("pooled", /*optimize=*/true);
}

TEST(Engine, ConvWithoutWeightsBeforeBatchNormIsAClearError) {
  // Found by the loader fuzzer: the BN fold read a conv's missing weight input.
  Case c({1, 4, 5, 5}, 33);
  for (const char* n : {"scale", "shift", "mean", "var"}) c.weight(n, {4}, 1, 0.5f, 1.5f);
  c.add(node("Conv", {"x"}, "conv"));
  c.add(node("BatchNormalization", {"conv", "scale", "shift", "mean", "var"}, "y"));
  c.output("y");
  try {
    xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
    run.forward({{"x", c.x}});
    FAIL() << "a Conv without weights ran";
  } catch (const xfer::Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv"), std::string::npos) << e.what();
  }
}

TEST(Engine, WeightsReleasedAfterAPlanAndRestoredForTheNext) {
  // After the first plan, plain weights that primitives hold in a blocked copy are dropped; a second input shape
  // rebuilds them from that copy. Every batch size, in any order, must still match the reference kernels.
  auto make = [](int64_t batch) {
    Case c({batch, 16, 9, 9}, 40 + static_cast<uint32_t>(batch));
    c.weight("w1", {32, 16, 1, 1}, 1);
    c.weight("w3", {32, 32, 3, 3}, 2);
    c.weight("b3", {32}, 3);
    c.add(node("Conv", {"x", "w1"}, "a", {{"_activation", std::string("Relu")}}));
    c.add(node("Conv", {"a", "w3", "b3"}, "conv", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    // The classifier's weights as exporters write them ([N, K] with transB, or [K, N]): read from the file's
    // tensors themselves, so they are released too (VGG and AlexNet hold most of their weights there).
    c.weight("wg", {10, 32 * 81}, 4);
    c.weight("bg", {10}, 5);
    c.weight("wh", {10, 6}, 6);
    c.add(node("Flatten", {"conv"}, "flat", {{"axis", int64_t{1}}}));
    c.add(node("Gemm", {"flat", "wg", "bg"}, "g", {{"transB", int64_t{1}}}));
    c.add(node("Gemm", {"g", "wh"}, "y"));
    c.output("y");
    return c;
  };
  Case first = make(2);
  first.g.inputs[0].shape[0] = -1;  // a dynamic batch, as exported models declare
  auto model = Model::compile(first.g, CompileOptions{});
  CompileOptions ref_options;
  ref_options.reference_only = true;
  ref_options.optimize = false;
  auto reference = Model::compile(first.g, ref_options);
  xfer::nn::Run run(model), ref(reference);
  for (int64_t batch : {2, 3, 2, 1, 3}) {
    SCOPED_TRACE(batch);
    Case c = make(batch);
    auto got = to_float_vector(run.forward({{"x", c.x}}).at(0));
    auto want = to_float_vector(ref.forward({{"x", c.x}}).at(0));
    ASSERT_EQ(got.size(), want.size());
    double scale = 0;
    for (float v : want) scale = std::max(scale, static_cast<double>(std::abs(v)));
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4 * scale) << "element " << i;
    // The 1x1 conv's and the Gemms' weights live only in their blocked copies between plan builds.
    for (const char* name : {"w1", "wg", "wh"}) EXPECT_EQ(model->graph().initializers.at(name).bytes, nullptr) << name;
  }
}

TEST(Engine, NodesWithoutOutputsDoNotBreakThePasses) {
  // Found by the loader fuzzer: an activation or Identity with no outputs after a conv crashed the fusion passes.
  Case c({1, 4, 5, 5}, 34);
  c.weight("w", {4, 4, 1, 1}, 1);
  c.add(node("Conv", {"x", "w"}, "y"));
  Node relu = node("Relu", {"y"}, "unused");
  relu.outputs.clear();
  Node identity = node("Identity", {"y"}, "unused2");
  identity.outputs.clear();
  c.add(relu);
  c.add(identity);
  c.output("y");
  try {
    xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
    EXPECT_EQ(run.forward({{"x", c.x}}).at(0).shape, (std::vector<int64_t>{1, 4, 5, 5}));
  } catch (const xfer::Error&) {
    // a clear error is as good as an answer here; a crash is not
  }
}

TEST(OneDnnConv, Bf16WithinOnePercent) {
  XFER_SKIP_WITHOUT_NATIVE_BF16();
  Case c({2, 16, 15, 15}, 9);
  c.weight("w1", {32, 16, 3, 3}, 1);
  c.weight("w2", {32, 32, 3, 3}, 2);
  c.add(node("Conv", {"x", "w1"}, "c1", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Relu", {"c1"}, "r1"));
  c.add(node("Conv", {"r1", "w2"}, "y"));
  c.output("y");
  c.check("y", true, 2e-2, Precision::bf16);
}

TEST(OneDnnConv, Winograd3x3MatchesReference) {
  XFER_SKIP_WITHOUT_AVX512();
  // 3x3 stride 1 with channels in multiples of 16: the shape oneDNN's Winograd F(4x4,3x3) kernel takes.
  Case c = conv_case(32, 48, 1, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}, true, {2, 0, 23, 19});
  c.check("y");
  CompileOptions with, without;
  without.winograd = false;
  xfer::nn::Run a(Model::compile(c.g, with)), b(Model::compile(c.g, without));
  a.forward({{"x", c.x}});
  b.forward({{"x", c.x}});
  EXPECT_NE(a.onednn_kernels().at("y").find("wino"), std::string::npos) << a.onednn_kernels().at("y");
  EXPECT_EQ(b.onednn_kernels().at("y").find("wino"), std::string::npos) << b.onednn_kernels().at("y");
}

TEST(OneDnnConv, Winograd3x3FusedReluUnevenTiles) {
  XFER_SKIP_WITHOUT_AVX512();
  // Output sizes that are not multiples of the 4x4 tile, and a fused activation.
  Case c = conv_case(16, 16, 1, {{"_activation", std::string("Relu")}}, false, {1, 0, 9, 7});
  c.check("y");
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  EXPECT_NE(run.onednn_kernels().at("y").find("wino"), std::string::npos) << run.onednn_kernels().at("y");
}

namespace {
Case pool_case(const std::string& op, std::map<std::string, Attribute> attrs, std::vector<int64_t> shape = {2, 16, 17, 15}) {
  Case c(shape, 3);
  // A conv first so the pool reads a blocked oneDNN layout, as in a real network.
  c.weight("w", {shape[1], shape[1], 1, 1}, 4);
  c.add(node("Conv", {"x", "w"}, "conv"));
  c.add(node(op, {"conv"}, "y", std::move(attrs)));
  c.output("y");
  return c;
}
}  // namespace

TEST(OneDnnPool, MaxPool) { pool_case("MaxPool", {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}}}).check("y"); }
TEST(OneDnnPool, MaxPoolPadsCeil) {
  pool_case("MaxPool", {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}},
                        {"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"ceil_mode", int64_t{1}}}).check("y");
}
TEST(OneDnnPool, MaxPoolDilated) {
  pool_case("MaxPool", {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"dilations", std::vector<int64_t>{2, 2}}}).check("y");
}
TEST(OneDnnPool, AveragePoolIncludePad) {
  pool_case("AveragePool", {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}},
                            {"count_include_pad", int64_t{1}}}).check("y");
}
TEST(OneDnnPool, AveragePoolExcludePad) {
  pool_case("AveragePool", {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}).check("y");
}
TEST(OneDnnPool, AveragePoolCeilExcludePad) {
  pool_case("AveragePool", {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}},
                            {"ceil_mode", int64_t{1}}}).check("y");
}
namespace {
// InceptionV3's pool branch: AveragePool 3x3 -> 1x1 Conv (fewer channels) -> BN -> Relu. The passes move the
// conv before the pool, whose bias and Relu become the pool's post-ops; the reference runs the graph as written.
Case pool_branch_case(std::map<std::string, Attribute> pool_attrs, int64_t c_out = 8) {
  Case c({2, 32, 17, 15}, 41);
  c.weight("w", {c_out, 32, 1, 1}, 1);
  c.weight("b", {c_out}, 2);
  c.batch_norm_weights(c_out);
  pool_attrs["kernel_shape"] = std::vector<int64_t>{3, 3};
  c.add(node("AveragePool", {"x"}, "pool", std::move(pool_attrs)));
  c.add(node("Conv", {"pool", "w", "b"}, "conv"));
  c.add(node("BatchNormalization", {"conv", "scale", "shift", "mean", "var"}, "bn"));
  c.add(node("Relu", {"bn"}, "y"));
  c.output("y");
  return c;
}
std::vector<std::string> op_order(const Graph& g) {
  std::vector<std::string> ops;
  for (const auto& n : g.nodes) ops.push_back(n.op_type);
  return ops;
}
const std::vector<std::pair<std::string, std::map<std::string, Attribute>>> kPoolBranches = {
    {"include pad", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"count_include_pad", int64_t{1}}}},
    {"exclude pad (Keras 'same')", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}},
    {"strided, ceil mode", {{"strides", std::vector<int64_t>{2, 2}}, {"ceil_mode", int64_t{1}}, {"count_include_pad", int64_t{1}}}},
};
}  // namespace

TEST(OneDnnPool, AveragePoolMovedBelowPointwiseConvWithBiasAndReluAsPostOps) {
  for (const auto& [what, attrs] : kPoolBranches) {
    SCOPED_TRACE(what);
    Case c = pool_branch_case(attrs);
    c.check("pool", /*optimize=*/true);
    auto model = Model::compile(c.g, CompileOptions{});
    EXPECT_EQ(op_order(model->graph()), (std::vector<std::string>{"Conv", "AveragePool"}));
  }
}

TEST(OneDnnPool, AveragePoolMovedBelowPointwiseConvBf16WithinOnePercent) {
  XFER_SKIP_WITHOUT_NATIVE_BF16();
  pool_branch_case(kPoolBranches[0].second).check("pool", /*optimize=*/true, 2e-2, Precision::bf16);
}

TEST(Engine, ReferencePoolAppliesTheMovedConvsBiasAndRelu) {
  // The reference kernels run the rewritten graph (the path a pool oneDNN declines takes) against the original.
  for (const auto& [what, attrs] : kPoolBranches) {
    SCOPED_TRACE(what);
    expect_rewritten_reference_equals_as_written(pool_branch_case(attrs));
  }
}

TEST(Engine, RewritesNeverReuseAValueNameTheFileAlreadyHas) {
  // The passes derive new value names from node names ("conv/before_pool"); here the file already computes a value
  // of that name, before the pool branch, and reads it afterwards.
  Case c({2, 32, 17, 15}, 41);
  c.weight("w", {8, 32, 1, 1}, 1);
  c.weight("b", {8}, 2);
  c.add(node("Relu", {"x"}, "conv/before_pool"));
  c.add(node("AveragePool", {"x"}, "pool", {{"kernel_shape", std::vector<int64_t>{3, 3}},
                                             {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Conv", {"pool", "w", "b"}, "conv"));
  c.add(node("Concat", {"conv", "conv/before_pool"}, "y", {{"axis", int64_t{1}}}));
  c.output("y");
  c.check("conv", /*optimize=*/true);
}

TEST(Engine, AveragePoolStaysBeforeAConvThatWidensOrASharedInput) {
  // More output channels than input: pooling first is cheaper, so the graph keeps its order.
  auto widening = Model::compile(pool_branch_case(kPoolBranches[0].second, 64).g, CompileOptions{});
  EXPECT_EQ(op_order(widening->graph()), (std::vector<std::string>{"AveragePool", "Conv"}));
  // The pool's output read by a second consumer (here: a graph output) must still exist as written.
  Case shared = pool_branch_case(kPoolBranches[0].second);
  shared.g.outputs.push_back(ValueInfo{"pool", DataType::float32, {}});
  auto model = Model::compile(shared.g, CompileOptions{});
  EXPECT_EQ(op_order(model->graph()), (std::vector<std::string>{"AveragePool", "Conv"}));
}

TEST(OneDnnPool, GlobalAveragePool) { pool_case("GlobalAveragePool", {}).check("y"); }
TEST(OneDnnPool, GlobalMaxPool) { pool_case("GlobalMaxPool", {}).check("y"); }

// ReduceMean over H and W (MNASNet's head) after a conv, so that it reads a blocked value: a global average pool,
// its [N, C] result (keepdims=0) a view. The axes as an attribute (opset 13, negative here) and as an input (18).
namespace {
Case spatial_mean_case(int64_t opset, int64_t keepdims, int64_t channels) {
  Case c({2, 8, 9, 7}, 43);
  c.g.source.opset = opset;
  c.weight("w", {channels, 8, 3, 3}, 1);
  c.add(node("Conv", {"x", "w"}, "conv", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  if (opset >= 18) {
    Tensor axes = Tensor::zeros(DataType::int64, {2});
    axes.mutable_data<int64_t>()[0] = 2;
    axes.mutable_data<int64_t>()[1] = 3;
    c.g.initializers["axes"] = axes;
    c.add(node("ReduceMean", {"conv", "axes"}, "y", {{"keepdims", keepdims}}));
  } else {
    c.add(node("ReduceMean", {"conv"}, "y", {{"axes", std::vector<int64_t>{-1, -2}}, {"keepdims", keepdims}}));
  }
  c.output("y");
  return c;
}
}  // namespace

TEST(OneDnnPool, ReduceMeanOverHeightAndWidth) {
  for (int64_t opset : {13, 18})
    for (int64_t keepdims : {0, 1})
      for (int64_t channels : {24, 32}) {
        SCOPED_TRACE(::testing::Message() << "opset " << opset << " keepdims " << keepdims << " channels " << channels);
        Case c = spatial_mean_case(opset, keepdims, channels);
        c.check("y");
        EXPECT_TRUE(c.slow_primitives.empty());
      }
}

TEST(OneDnnConcat, BlockedInputsAlongChannels) {
  Case c({2, 8, 7, 7}, 2);
  c.weight("w1", {16, 8, 1, 1}, 1);
  c.weight("w2", {32, 8, 3, 3}, 2);
  c.add(node("Conv", {"x", "w1"}, "a"));
  c.add(node("Conv", {"x", "w2"}, "b", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Concat", {"a", "b", "x"}, "y", {{"axis", int64_t{1}}}));
  c.output("y");
  c.check("a");
  // On oneDNN: a concat primitive, or, where the inputs' layouts differ (AVX2's nChw8c convs beside the plain input)
  // and each is reordered to one layout for it, in place, those reorders writing straight into the output.
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  EXPECT_EQ(run.onednn_kernels().count("y"), 1u) << "the concat ran on the reference kernel";
}

TEST(OneDnnConcat, BatchOneWrittenInPlaceNestedAndShared) {
  // An Inception block at batch 1: conv, Winograd conv and pool outputs written straight into the concat; one
  // piece is read again after the concat, and the concat itself is a piece of a second one.
  Case c({1, 16, 9, 9}, 21);
  c.weight("w1", {16, 16, 1, 1}, 1);
  c.weight("w3", {32, 16, 3, 3}, 2);
  c.weight("ws", {16, 16, 1, 1}, 3);
  c.weight("wy", {16, 80, 1, 1}, 4);
  c.add(node("Conv", {"x", "w1"}, "a"));
  c.add(node("Conv", {"x", "w3"}, "b", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("MaxPool", {"a"}, "p", {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Concat", {"a", "b", "p"}, "m", {{"axis", int64_t{1}}}));
  c.add(node("Conv", {"a", "ws"}, "s"));
  c.add(node("Concat", {"m", "s"}, "n", {{"axis", int64_t{1}}}));
  c.add(node("Conv", {"n", "wy"}, "y"));
  c.output("y");
  c.check("y");
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  EXPECT_EQ(run.onednn_kernels().at("m"), "in place (no copy)");
  EXPECT_EQ(run.onednn_kernels().at("n"), "in place (no copy)");
}

TEST(OneDnnConcat, DenseBlockAtBatchOneIsPrefixesOfOneBuffer) {
  // A DenseNet block at batch 1: each layer reads the concat of every earlier output (Relu, conv) and adds 16
  // channels; concat k's inputs are concat k-1's plus one. Every concat is made in place as a prefix of the last
  // one's buffer, while the earlier concats are still read (the Relus) and the block's input is read again at the end.
  Case c({1, 16, 6, 6}, 23);
  c.weight("w0", {32, 16, 1, 1}, 1);
  c.add(node("Conv", {"x", "w0"}, "f0"));
  std::vector<std::string> features{"f0"};
  for (int layer = 1; layer <= 3; ++layer) {
    const std::string cat = fmt::format("cat{}", layer), act = fmt::format("act{}", layer);
    const std::string w = fmt::format("w{}", layer), f = fmt::format("f{}", layer);
    c.add(node("Concat", features, cat, {{"axis", int64_t{1}}}));
    c.add(node("Relu", {cat}, act));
    c.weight(w, {16, 32 + 16 * (layer - 1), 3, 3}, 1 + layer);
    c.add(node("Conv", {act, w}, f, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    features.push_back(f);
  }
  c.add(node("Concat", features, "block", {{"axis", int64_t{1}}}));
  c.add(node("Concat", {"block", "f0"}, "y", {{"axis", int64_t{1}}}));
  c.output("y");
  c.check("f3");
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  const auto kernels = run.onednn_kernels();
  for (const char* cat : {"cat2", "cat3", "block"})  // cat1, of one input, is f0 itself
    EXPECT_EQ(kernels.count(cat) ? kernels.at(cat) : "not on oneDNN", "in place (no copy)") << cat;
}

TEST(OneDnnConcat, BatchOneWithTheRawInputReorderedIntoPlace) {
  // The plain graph input beside a blocked conv output: oneDNN has only its ref:any concat for mixed layouts, so
  // the input is reordered to nChw16c, and at batch 1 that reorder writes it straight into the concat's output.
  Case c({1, 16, 5, 5}, 22);
  c.weight("w1", {16, 16, 1, 1}, 1);
  c.add(node("Conv", {"x", "w1"}, "a"));
  c.add(node("Concat", {"a", "x"}, "y", {{"axis", int64_t{1}}}));
  c.output("y");
  c.check("a");
  EXPECT_TRUE(c.slow_primitives.empty()) << fmt::format("{}", fmt::join(c.slow_primitives, "; "));
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  EXPECT_EQ(run.onednn_kernels().at("y"), "in place (no copy)");
}

TEST(OneDnnInnerProduct, GemmTransBAlphaBeta) {
  Case c({4, 64}, 2);
  c.weight("b", {10, 64}, 3);
  c.weight("c", {10}, 4);
  c.add(node("Gemm", {"x", "b", "c"}, "y", {{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}}));
  c.output("y");
  c.check("y");
}
TEST(OneDnnInnerProduct, GemmNoTrans) {
  Case c({3, 32}, 2);
  c.weight("b", {32, 12}, 3);
  c.add(node("Gemm", {"x", "b"}, "y"));
  c.output("y");
  c.check("y");
}
TEST(OneDnnInnerProduct, MatMulConstant) {
  Case c({5, 24}, 2);
  c.weight("b", {24, 7}, 3);
  c.add(node("MatMul", {"x", "b"}, "y"));
  c.output("y");
  c.check("y");
}

TEST(OneDnnBinary, ResidualAndBroadcast) {
  for (std::string op : {"Add", "Sub", "Mul", "Div"}) {
    SCOPED_TRACE(op);
    Case c({2, 16, 6, 6}, 2);
    c.weight("w", {16, 16, 3, 3}, 3);
    c.weight("k", {1, 16, 1, 1}, 4, 0.5f, 1.5f);
    c.add(node("Conv", {"x", "w"}, "conv", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    c.add(node(op, {"conv", "x"}, "res"));
    c.add(node(op, {"res", "k"}, "y"));
    c.output("y");
    c.check("y");
    c.check("res");
  }
}

TEST(OneDnnEltwise, AfterConv) {
  for (std::string op : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "Clip"}) {
    SCOPED_TRACE(op);
    Case c({2, 16, 5, 5}, 2);
    c.weight("w", {16, 16, 1, 1}, 3, -2.0f, 2.0f);
    c.add(node("Conv", {"x", "w"}, "conv"));
    std::vector<std::string> ins = {"conv"};
    if (op == "Clip") {
      Tensor lo = Tensor::zeros(DataType::float32, {}), hi = Tensor::zeros(DataType::float32, {});
      lo.mutable_data<float>()[0] = -0.5f;
      hi.mutable_data<float>()[0] = 0.7f;
      c.g.initializers["lo"] = lo;
      c.g.initializers["hi"] = hi;
      ins = {"conv", "lo", "hi"};
    }
    c.add(node(op, ins, "y", op == "LeakyRelu" ? std::map<std::string, Attribute>{{"alpha", 0.2f}} : std::map<std::string, Attribute>{}));
    c.output("y");
    c.check("y");
  }
}

TEST(OneDnnLrn, AcrossChannels) {
  Case c = pool_case("LRN", {{"size", int64_t{5}}, {"alpha", 1e-2f}, {"beta", 0.75f}, {"bias", 2.0f}});
  c.check("y");
}

TEST(Engine, CutAfterLayerComputesNothingPast) {
  Case c({1, 4, 5, 5}, 2);
  c.weight("w", {4, 4, 1, 1}, 3);
  c.add(node("Conv", {"x", "w"}, "features"));
  c.add(node("Relu", {"features"}, "y"));
  c.output("y");
  CompileOptions opt;
  opt.outputs = {"features"};
  auto model = Model::compile(c.g, opt);
  ASSERT_EQ(model->graph().nodes.size(), 1u);
  EXPECT_EQ(model->outputs().at(0).name, "features");
}

TEST(OneDnnTranspose, NhwcToNchwAndBack) {
  // Keras graphs: NHWC input -> Transpose -> conv (blocked) -> Transpose back to NHWC.
  Case c({2, 9, 7, 8}, 2);
  c.weight("w", {16, 8, 3, 3}, 3);
  c.add(node("Transpose", {"x"}, "nchw", {{"perm", std::vector<int64_t>{0, 3, 1, 2}}}));
  c.add(node("Conv", {"nchw", "w"}, "conv"));
  c.add(node("Transpose", {"conv"}, "y", {{"perm", std::vector<int64_t>{0, 2, 3, 1}}}));
  c.output("y");
  c.check("y");
  c.check("conv");
  // The first transpose is the NHWC input seen through permuted strides: the conv reads it, no copy of its own.
  xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
  run.forward({{"x", c.x}});
  EXPECT_EQ(run.node_precisions().count("nchw"), 0u) << "the transpose of plain memory ran as a copy";
}

// ShuffleNetV2's unit as torchvision exports it: a channel split (two Slices), a branch of convs on one half, a
// concat, and the channel shuffle (Reshape to [N, 2, C/2, H, W], Transpose of the two channel axes, Reshape back).
// The shuffle is one reorder between blocked layouts (nChw16c when the halves are whole 16-blocks, nChw8c when whole
// 8-blocks, plain otherwise); at batch 1 the halves are views and the concat writes into the shuffled buffer itself.
// All against the reference kernels.
TEST(OneDnnShuffle, ChannelShuffleAndSplitInEveryLayout) {
  auto ints = [](std::vector<int64_t> v) {
    Tensor t = Tensor::zeros(DataType::int64, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.mutable_data<int64_t>());
    return t;
  };
  for (int64_t channels : {96, 48, 116}) {
    for (int64_t batch : {1, 2}) {
      SCOPED_TRACE(fmt::format("{} channels, batch {}", channels, batch));
      const int64_t half = channels / 2;
      Case c({batch, channels, 6, 5}, 41);
      c.weight("w0", {channels, channels, 1, 1}, 42);
      c.weight("w1", {half, half, 1, 1}, 43);
      c.weight("w2", {half, 1, 3, 3}, 44);
      c.weight("w3", {half, half, 1, 1}, 45);
      c.g.initializers["split"] = ints({batch, 2, half, 6, 5});
      c.g.initializers["merge"] = ints({batch, channels, 6, 5});
      c.g.initializers["zero"] = ints({0});
      c.g.initializers["mid"] = ints({half});
      c.g.initializers["end"] = ints({channels});
      c.g.initializers["axis"] = ints({1});
      const std::map<std::string, Attribute> perm = {{"perm", std::vector<int64_t>{0, 2, 1, 3, 4}}};
      c.add(node("Conv", {"x", "w0"}, "pre"));
      c.add(node("Reshape", {"pre", "split"}, "s1"));
      c.add(node("Transpose", {"s1"}, "t1", perm));
      c.add(node("Reshape", {"t1", "merge"}, "shuffled"));
      c.add(node("Slice", {"shuffled", "zero", "mid", "axis"}, "x1"));
      c.add(node("Slice", {"shuffled", "mid", "end", "axis"}, "x2"));
      c.add(node("Conv", {"x2", "w1"}, "b1"));
      c.add(node("Relu", {"b1"}, "r1"));
      c.add(node("Conv", {"r1", "w2"}, "b2", {{"group", half}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
      c.add(node("Conv", {"b2", "w3"}, "b3"));
      c.add(node("Concat", {"x1", "b3"}, "cat", {{"axis", int64_t{1}}}));
      c.add(node("Reshape", {"cat", "split"}, "s2"));
      c.add(node("Transpose", {"s2"}, "t2", perm));
      c.add(node("Reshape", {"t2", "merge"}, "y"));
      c.output("y");
      // In the plain layout (116 channels) the transpose is a view through permuted strides and the Reshape after
      // it makes the one copy; in blocked layouts the transpose writes the blocks itself.
      const bool plain = channels == 116;
      c.check(plain ? "b1" : "t1", true);
      EXPECT_TRUE(c.slow_primitives.empty()) << fmt::format("{}", fmt::join(c.slow_primitives, "; "));
      xfer::nn::Run run(Model::compile(c.g, CompileOptions{}));
      run.forward({{"x", c.x}});
      const auto ran = run.onednn_nodes();
      auto copied = [&](const char* part) { return std::find(ran.begin(), ran.end(), part) != ran.end(); };
      if (batch == 1 && channels != 116) {
        // At batch 1 both halves of a blocked value are contiguous runs: views, nothing runs for them. The concat
        // takes over the shuffled buffer, whose first half is x1 already, and the branch writes its second half.
        EXPECT_FALSE(copied("x2"));
        EXPECT_FALSE(copied("x1"));
        EXPECT_EQ(run.onednn_kernels().at("cat"), "in place (no copy)");
      }
      if (batch == 2) {
        EXPECT_TRUE(copied("x1") && copied("x2"));
      }
      if (!plain) {
        EXPECT_TRUE(copied("t2"));
      }
    }
  }
}
