// int8 kernels (nn/plan/quantized.cpp, int8 pools) against their reference: the fp32 reference kernels run node by
// node on the fused graph, with every int8 value quantised and dequantised by its calibrated range and the weights
// by their per-output-channel scales: the arithmetic the int8 plan promises. Each case asserts that the node really
// ran in int8, so the test cannot compare fp32 with itself.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_case.h"
#include "nn/calibration.h"
#include "nn/model.h"
#include "nn/reference_ops.h"
#include "util/error.h"
#include "util/log.h"

using namespace xfer::nn;
using namespace xfer::nn::testing;
struct DebugLog { DebugLog() { if (getenv("INT8_DEBUG")) spdlog::set_level(spdlog::level::debug); } } debug_log;

namespace {

Tensor fake_quant(const Tensor& t, const ValueRange& r) {
  Tensor q = Tensor::zeros(DataType::float32, t.shape);
  const float s = r.scale(), lo = r.is_unsigned ? 0.0f : -128.0f, hi = r.is_unsigned ? 255.0f : 127.0f;
  for (int64_t i = 0; i < t.element_count(); ++i)
    q.mutable_data<float>()[i] = std::clamp(std::nearbyint(t.data<float>()[i] / s), lo, hi) * s;
  return q;
}

// Per-output-channel s8, as the plan quantises them. Without VNNI, pairs of u8 x s8 products must fit the int16
// they are added in, so the weights keep 7 bits: for a u8 source the plan quantises them so (levels 63), for s8
// oneDNN's reorder halves the plan's 8-bit ones, rounding to nearest even ("sa0.5" in its verbose log).
Tensor fake_quant_weights(const Tensor& w, bool unsigned_source) {
  Tensor q = Tensor::zeros(DataType::float32, w.shape);
  const int64_t m_count = w.shape[0], per = w.element_count() / m_count;
  const bool vnni = cpu_kernels().vnni;
  const float levels = vnni || !unsigned_source ? 127.0f : 63.0f, adjust = vnni || unsigned_source ? 1.0f : 0.5f;
  for (int64_t m = 0; m < m_count; ++m) {
    float max_abs = 0;
    for (int64_t i = 0; i < per; ++i) max_abs = std::max(max_abs, std::fabs(w.data<float>()[m * per + i]));
    const float s = max_abs > 0 ? max_abs / levels : 1.0f;
    for (int64_t i = 0; i < per; ++i)
      q.mutable_data<float>()[m * per + i] = std::nearbyint(std::nearbyint(w.data<float>()[m * per + i] / s) * adjust) / adjust * s;
  }
  return q;
}

// The fused graph on the reference kernels, every ranged value of an int8 node quantised on the way in and out.
Tensor quantized_reference(const Graph& fused, const Calibration& cal, const Tensor& x) {
  std::map<std::string, Tensor> values = {{fused.inputs[0].name, x}};
  for (const auto& [name, t] : fused.initializers) values[name] = t;
  auto ranged = [&](const std::string& v) {
    const ValueRange* r = cal.find(v);
    return r ? fake_quant(values.at(v), *r) : values.at(v);
  };
  for (const auto& n : fused.nodes) {
    const bool int8 = n.op_type == "Conv" || n.op_type == "Concat" || n.op_type == "MaxPool" || n.op_type == "AveragePool";
    std::vector<Tensor> ins;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (n.inputs[i].empty()) ins.emplace_back();
      else if (n.op_type == "Conv" && i == 1)
        ins.push_back(fake_quant_weights(values.at(n.inputs[i]), cal.find(n.inputs[0]) && cal.find(n.inputs[0])->is_unsigned));
      else if (int8 && !fused.initializers.count(n.inputs[i])) ins.push_back(ranged(n.inputs[i]));
      else ins.push_back(values.at(n.inputs[i]));
    }
    std::vector<const Tensor*> ptrs;
    for (size_t i = 0; i < ins.size(); ++i) ptrs.push_back(n.inputs[i].empty() ? nullptr : &ins[i]);
    auto outs = run_reference(n, ptrs, fused.source.opset);
    values[n.outputs[0]] = outs.at(0);
    if (int8 && cal.find(n.outputs[0])) {
      ValueRange r = *cal.find(n.outputs[0]);
      // oneDNN's int8 pools write their input's type: a pool moved below a conv reads s8 and writes s8 steps.
      if (n.op_type == "AveragePool" && n.attr_int("_bias", 0) && cal.find(n.inputs[0]) && !cal.find(n.inputs[0])->is_unsigned)
        r.is_unsigned = false;
      values[n.outputs[0]] = fake_quant(values[n.outputs[0]], r);
    }
  }
  return values.at(fused.outputs[0].name);
}

// Calibrates on the case's input (minmax: nothing clipped, so the reference sees the same ranges), runs the int8
// plan and expects each of `int8_nodes` in int8 and the output within one output step of the quantised reference.
void check_int8(Case& c, const std::vector<std::string>& int8_nodes) {
  auto cal = std::make_shared<Calibration>(calibrate(c.g, {}, {c.x}, CalibrationMethod::minmax));
  CompileOptions opt;
  opt.precision = Precision::int8;
  opt.calibration = cal;
  auto model = Model::compile(c.g, opt);
  Run run(model);
  auto got = to_float_vector(run.forward({{"x", c.x}}).at(0));
  const auto precisions = run.node_precisions();
  for (const auto& n : int8_nodes) {
    ASSERT_TRUE(precisions.count(n)) << n << " did not run on oneDNN";
    EXPECT_EQ(precisions.at(n), "int8") << n;
  }
  EXPECT_TRUE(run.reference_primitives().empty()) << run.reference_primitives().front();
  // The fused graph of a model that has not run: a run releases weights its primitives absorbed.
  auto want = to_float_vector(quantized_reference(Model::compile(c.g, CompileOptions{})->graph(), *cal, c.x));
  ASSERT_EQ(got.size(), want.size());
  const std::string out = model->graph().outputs[0].name;
  const float step = cal->find(out) ? cal->find(out)->scale() : 1e-3f;
  size_t off_by_a_step = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1.01f * step) << "element " << i << " of " << got.size();
    off_by_a_step += std::fabs(got[i] - want[i]) > 0.5f * step;
  }
  // Rounding ties aside, int32 accumulation and the float reference agree exactly.
  EXPECT_LT(off_by_a_step, got.size() / 50 + 1);
  auto again = to_float_vector(run.forward({{"x", c.x}}).at(0));
  EXPECT_EQ(again, got);
}

Case conv_relu_case(int64_t c_in, int64_t c_out, int64_t group, const std::string& act) {
  Case c({2, c_in, 13, 11}, 7);
  c.weight("w", {c_out, c_in / group, 3, 3}, 11);
  c.weight("b", {c_out}, 12);
  c.add(node("Conv", {"x", "w", "b"}, "conv", {{"group", group}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  if (act.empty()) {
    c.output("conv");
    return c;
  }
  if (act == "Clip") {
    c.weight("lo", {}, 1, 0.0f, 0.0f);
    c.weight("hi", {}, 1, 0.5f, 0.5f);
    c.add(node("Clip", {"conv", "lo", "hi"}, "y"));
  } else {
    c.add(node(act, {"conv"}, "y"));
  }
  c.output("y");
  return c;
}

}  // namespace

TEST(Int8Conv, SignedInputReluOutputUnsigned) { auto c = conv_relu_case(16, 32, 1, "Relu"); check_int8(c, {"conv"}); }
TEST(Int8Conv, NoActivationSignedOutput) { auto c = conv_relu_case(16, 32, 1, ""); check_int8(c, {"conv"}); }
TEST(Int8Conv, ClipNeedsRealValuesInItsPostOps) { auto c = conv_relu_case(16, 32, 1, "Clip"); check_int8(c, {"conv"}); }
TEST(Int8Conv, Depthwise) { auto c = conv_relu_case(32, 32, 32, "Relu"); check_int8(c, {"conv"}); }
TEST(Int8Conv, RgbInput) { auto c = conv_relu_case(3, 32, 1, "Relu"); check_int8(c, {"conv"}); }

// conv a (Relu) -> conv b; b + a -> Relu fused as b's residual: the residual's int8 steps enter b's post-ops.
TEST(Int8Conv, FusedResidualAndRelu) {
  Case c({2, 16, 9, 9}, 3);
  c.weight("wa", {16, 16, 3, 3}, 4);
  c.weight("wb", {16, 16, 3, 3}, 5);
  c.weight("bb", {16}, 6);
  const std::map<std::string, Attribute> pads = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  c.add(node("Conv", {"x", "wa"}, "a0", pads));
  c.add(node("Relu", {"a0"}, "a"));
  c.add(node("Conv", {"a", "wb", "bb"}, "b", pads));
  c.add(node("Add", {"b", "a"}, "sum"));
  c.add(node("Relu", {"sum"}, "y"));
  c.add(node("Conv", {"y", "wb"}, "z", pads));  // reads the residual block's output in int8
  c.output("z");
  auto fused = Model::compile(c.g, CompileOptions{})->graph();
  bool residual = false;
  for (const auto& n : fused.nodes) residual = residual || n.attr_int("_residual", 0) != 0;
  ASSERT_TRUE(residual) << "the passes did not fuse the residual";
  check_int8(c, {"a0", "b", "z"});
}

// Two branches concatenated, then a conv: the concat's inputs share its range, so it is a copy of bytes.
TEST(Int8Concat, SharedScaleBranchesThenMaxPoolAndConv) {
  Case c({1, 16, 12, 12}, 8);
  c.weight("w1", {16, 16, 1, 1}, 9, -1.0f, 1.0f);  // a wider range than w3's branch
  c.weight("w3", {32, 16, 3, 3}, 10, -0.1f, 0.1f);
  c.weight("wz", {8, 48, 1, 1}, 11);
  c.add(node("Conv", {"x", "w1"}, "p0"));
  c.add(node("Relu", {"p0"}, "p"));
  c.add(node("Conv", {"x", "w3"}, "q0", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Relu", {"q0"}, "q"));
  c.add(node("Concat", {"p", "q"}, "cat", {{"axis", int64_t{1}}}));
  c.add(node("MaxPool", {"cat"}, "pool", {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}}));
  c.add(node("Conv", {"pool", "wz"}, "z"));
  c.output("z");
  auto cal = calibrate(c.g, {}, {c.x}, CalibrationMethod::minmax);
  const auto fused = Model::compile(c.g, CompileOptions{})->graph();
  std::string p, q;
  for (const auto& n : fused.nodes) {
    if (n.name == "p0") p = n.outputs[0];
    if (n.name == "q0") q = n.outputs[0];
  }
  ASSERT_TRUE(cal.find(p) && cal.find(q) && cal.find("cat") && cal.find("pool"));
  EXPECT_EQ(cal.find(p)->threshold, cal.find("cat")->threshold);
  EXPECT_EQ(cal.find(q)->threshold, cal.find("cat")->threshold);
  EXPECT_EQ(cal.find("pool")->threshold, cal.find("cat")->threshold);
  check_int8(c, {"p0", "q0", "cat", "pool", "z"});
}

// InceptionV3's pool branch: AveragePool -> 1x1 conv + Relu; the passes move the pool below the conv, where it adds
// the bias and applies the Relu as post-ops, in real values, writing its own range.
TEST(Int8Pool, AveragePoolWithMovedBiasAndRelu) {
  Case c({1, 32, 10, 10}, 12);
  c.weight("w_first", {32, 32, 1, 1}, 13);
  c.weight("w", {16, 32, 1, 1}, 14);
  c.weight("b", {16}, 15);
  c.weight("w_last", {32, 16, 1, 1}, 16);
  c.add(node("Conv", {"x", "w_first"}, "a0"));
  c.add(node("Relu", {"a0"}, "a"));
  c.add(node("AveragePool", {"a"}, "pool", {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  c.add(node("Conv", {"pool", "w", "b"}, "c0"));
  c.add(node("Relu", {"c0"}, "c"));
  c.add(node("Conv", {"c", "w_last"}, "z"));
  c.output("z");
  const auto fused = Model::compile(c.g, CompileOptions{})->graph();
  std::string moved;
  for (const auto& n : fused.nodes) if (n.op_type == "AveragePool" && n.attr_int("_bias", 0)) moved = n.name;
  ASSERT_FALSE(moved.empty()) << "the passes did not move the average pool";
  check_int8(c, {"a0", moved, "z"});
}

TEST(Int8Calibration, ThresholdsOfEachMethod) {
  // |x| uniform on 1000 bins, plus a few outliers at the far end.
  std::vector<double> hist(2048, 0.0);
  for (int b = 0; b < 1000; ++b) hist[b] = 100;
  hist[2047] = 5;
  EXPECT_FLOAT_EQ(choose_threshold(hist, 2.048f, false, CalibrationMethod::minmax), 2.048f);
  EXPECT_NEAR(choose_threshold(hist, 2.048f, false, CalibrationMethod::percentile), 1.0f, 0.002f);
  // A long-tailed |x| (exponential, median at bin 104): entropy clips the tail, keeping far more than the bulk.
  std::vector<double> tail(2048);
  for (int b = 0; b < 2048; ++b) tail[b] = std::floor(1e6 * std::exp(-b / 150.0));
  const float kl = choose_threshold(tail, 2.048f, true, CalibrationMethod::entropy);
  EXPECT_LT(kl, 0.9f * 2.048f);
  EXPECT_GT(kl, 0.3f);
}

TEST(Int8Calibration, JsonRoundTripAndDigest) {
  Calibration c;
  c.method = "percentile";
  c.images = 3;
  c.values["a"] = ValueRange{1.5f, true};
  c.values["b"] = ValueRange{0.25f, false};
  Calibration back = Calibration::from_json(nlohmann::json::parse(c.to_json().dump()));
  EXPECT_EQ(back.digest(), c.digest());
  back.values["b"].threshold = 0.26f;
  EXPECT_NE(back.digest(), c.digest());
  EXPECT_THROW(Calibration::from_json(nlohmann::json{{"method", "x"}, {"values", {{"a", {{"threshold", -1}, {"unsigned", true}}}}}}),
               xfer::Error);
}

TEST(Int8Model, RefusedWithoutCalibration) {
  auto c = conv_relu_case(16, 16, 1, "Relu");
  CompileOptions opt;
  opt.precision = Precision::int8;
  EXPECT_THROW(Model::compile(c.g, opt), xfer::Error);
}
