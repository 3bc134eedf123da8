// Hostile ONNX files: each must be an xfer::Error that names the file and the reason, never a crash or a
// wrong answer. The files are built here with libonnx's protobuf classes and then damaged.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <sys/resource.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <fstream>

#include "nn/model.h"
#include "nn/onnx/onnx_import.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace xfer;

namespace {

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("xfer_hostile_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "model");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // x[1,4] -> Relu -> Add(w) -> y, w a float initializer [4].
  static onnx::ModelProto valid_model() {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto* g = m.mutable_graph();
    g->set_name("g");
    auto value = [](onnx::ValueInfoProto* v, const std::string& name) {
      v->set_name(name);
      auto* t = v->mutable_type()->mutable_tensor_type();
      t->set_elem_type(onnx::TensorProto::FLOAT);
      t->mutable_shape()->add_dim()->set_dim_value(1);
      t->mutable_shape()->add_dim()->set_dim_value(4);
    };
    value(g->add_input(), "x");
    value(g->add_output(), "y");
    auto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    w->add_dims(4);
    for (float v : {1.0f, 2.0f, 3.0f, 4.0f}) w->add_float_data(v);
    auto* relu = g->add_node();
    relu->set_op_type("Relu");
    relu->add_input("x");
    relu->add_output("r");
    auto* add = g->add_node();
    add->set_op_type("Add");
    add->add_input("r");
    add->add_input("w");
    add->add_output("y");
    return m;
  }

  fs::path write(const onnx::ModelProto& m, const std::string& name = "model.onnx") {
    fs::path p = dir_ / "model" / name;
    std::ofstream out(p, std::ios::binary);
    m.SerializeToOstream(&out);
    return p;
  }

  // Expects import (and compile + run, if import succeeds) to throw Error mentioning the file and `reason`.
  void expect_error(const fs::path& file, const std::string& reason) {
    try {
      auto model = nn::Model::compile(nn::import_onnx(file));
      nn::Run run(model);
      float x[4] = {1, 2, 3, 4};
      run.forward(x, {1, 4});
      FAIL() << file << ": no error, expected one about '" << reason << "'";
    } catch (const Error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find(file.filename().string()), std::string::npos) << what;
      EXPECT_NE(what.find(reason), std::string::npos) << what;
    }
  }

  void external_data(onnx::TensorProto* t, const std::string& location, int64_t length) {
    t->clear_float_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value(location);
    kv = t->add_external_data();
    kv->set_key("length");
    kv->set_value(std::to_string(length));
  }

  fs::path dir_;
};

}  // namespace

TEST_F(Hostile, ValidModelRuns) {
  auto model = nn::Model::compile(nn::import_onnx(write(valid_model())));
  nn::Run run(model);
  float x[4] = {-1, 2, -3, 4};
  auto y = run.forward(x, {1, 4}).at(0);
  EXPECT_EQ(y.data<float>()[0], 1.0f);
  EXPECT_EQ(y.data<float>()[1], 4.0f);
  EXPECT_EQ(y.data<float>()[2], 3.0f);
  EXPECT_EQ(y.data<float>()[3], 8.0f);
}

TEST_F(Hostile, TruncatedProtobuf) {
  fs::path p = write(valid_model());
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (size_t cut : {bytes.size() / 2, bytes.size() - 3, size_t{7}}) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(cut));
    SCOPED_TRACE(cut);
    expect_error(p, "");
  }
}

TEST_F(Hostile, GarbageBytes) {
  fs::path p = dir_ / "model" / "garbage.onnx";
  std::ofstream(p, std::ios::binary) << "\xff\xff\xff\xff this is not a protobuf \x01\x02\x03";
  expect_error(p, "not an ONNX model");
}

TEST_F(Hostile, EmptyFile) {
  fs::path p = dir_ / "model" / "empty.onnx";
  std::ofstream(p, std::ios::binary).close();
  expect_error(p, "no graph");
}

TEST_F(Hostile, TensorDataShorterThanShape) {
  auto m = valid_model();
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, 1000);
  expect_error(write(m), "its shape needs 1000");
  auto raw = valid_model();
  auto* t = raw.mutable_graph()->mutable_initializer(0);
  t->clear_float_data();
  t->set_raw_data(std::string(12, '\0'));  // 3 floats for shape [4]
  expect_error(write(raw, "raw.onnx"), "12 bytes of data");
}

TEST_F(Hostile, HugeShapeWithoutDataIsRefusedBeforeAllocating) {
  // Found by the loader fuzzer: a [64503, 65149] float tensor (16.8 GB) with no values. The count check must come
  // before the buffer, or the import touches 16 GB of zeros before it fails.
  auto m = valid_model();
  auto* t = m.mutable_graph()->mutable_initializer(0);
  t->set_dims(0, 64503);
  t->add_dims(65149);
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  expect_error(write(m), "its shape needs 4202305947");
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 512 * 1024) << "peak RSS grew by " << (after.ru_maxrss - before.ru_maxrss) << " kB";
}

TEST_F(Hostile, AbsurdShape) {
  auto m = valid_model();
  auto* t = m.mutable_graph()->mutable_initializer(0);
  t->set_dims(0, int64_t{1} << 40);
  t->add_dims(int64_t{1} << 40);
  expect_error(write(m), "absurd shape");
  auto neg = valid_model();
  neg.mutable_graph()->mutable_initializer(0)->set_dims(0, -4);
  expect_error(write(neg, "neg.onnx"), "negative dimension");
}

TEST_F(Hostile, ExternalDataDotDot) {
  std::ofstream(dir_ / "secret.bin", std::ios::binary).write("0123456789abcdef", 16);
  auto m = valid_model();
  external_data(m.mutable_graph()->mutable_initializer(0), "../secret.bin", 16);
  expect_error(write(m), "leaves the model's folder");
}

TEST_F(Hostile, ExternalDataAbsolute) {
  std::ofstream(dir_ / "secret.bin", std::ios::binary).write("0123456789abcdef", 16);
  auto m = valid_model();
  external_data(m.mutable_graph()->mutable_initializer(0), (dir_ / "secret.bin").string(), 16);
  expect_error(write(m), "is absolute");
}

TEST_F(Hostile, ExternalDataSymlinkOutside) {
  std::ofstream(dir_ / "secret.bin", std::ios::binary).write("0123456789abcdef", 16);
  fs::create_symlink(dir_ / "secret.bin", dir_ / "model" / "weights.bin");
  auto m = valid_model();
  external_data(m.mutable_graph()->mutable_initializer(0), "weights.bin", 16);
  expect_error(write(m), "outside the model's folder");
}

TEST_F(Hostile, ExternalDataInsideIsRead) {
  float w[4] = {1, 2, 3, 4};
  std::ofstream(dir_ / "model" / "weights.bin", std::ios::binary).write(reinterpret_cast<const char*>(w), 16);
  auto m = valid_model();
  external_data(m.mutable_graph()->mutable_initializer(0), "weights.bin", 16);
  auto g = nn::import_onnx(write(m));
  EXPECT_EQ(g.initializers.at("w").data<float>()[3], 4.0f);
  auto short_file = valid_model();
  external_data(short_file.mutable_graph()->mutable_initializer(0), "weights.bin", 64);
  expect_error(write(short_file, "short.onnx"), "64 needed");
}

TEST_F(Hostile, GraphCycle) {
  auto m = valid_model();
  auto* g = m.mutable_graph();
  g->mutable_node(0)->set_input(0, "y");  // Relu reads Add's output, Add reads Relu's
  expect_error(write(m), "cycle");
}

TEST_F(Hostile, MissingValue) {
  auto m = valid_model();
  m.mutable_graph()->mutable_node(1)->set_input(1, "nowhere");
  expect_error(write(m), "'nowhere'");
}

TEST_F(Hostile, UnsupportedOpNamesOpNodeAndOpset) {
  auto m = valid_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("NonMaxSuppression");
  m.mutable_graph()->mutable_node(0)->set_name("my_nms");
  try {
    nn::Model::compile(nn::import_onnx(write(m)));
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("NonMaxSuppression"), std::string::npos) << what;
    EXPECT_NE(what.find("my_nms"), std::string::npos) << what;
    EXPECT_NE(what.find("opset 13"), std::string::npos) << what;
  }
}

// Every missing operator in one message, not only the first.
TEST_F(Hostile, EveryUnsupportedOpListedAtOnce) {
  auto m = valid_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("NonMaxSuppression");
  m.mutable_graph()->mutable_node(1)->set_op_type("Loop");
  try {
    nn::Model::compile(nn::import_onnx(write(m)));
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("2 operators"), std::string::npos) << what;
    EXPECT_NE(what.find("NonMaxSuppression"), std::string::npos) << what;
    EXPECT_NE(what.find("Loop"), std::string::npos) << what;
  }
}

// ---- The transformer operators (issue 13): sizes computed from a file's numbers, equations, indices ----

namespace {

// x[1,4] -> <nodes> -> y, with int64/float initializers added by the caller.
onnx::ModelProto graph_with(const std::function<void(onnx::GraphProto*)>& add_nodes) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  for (auto* v : {g->add_input(), g->add_output()}) {
    v->set_name(v == &g->input(0) ? "x" : "y");
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_value(1);
    t->mutable_shape()->add_dim()->set_dim_value(4);
  }
  add_nodes(g);
  return m;
}

void int64_init(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims, std::vector<int64_t> v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (auto d : dims) t->add_dims(d);
  for (auto x : v) t->add_int64_data(x);
}

void float_init(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t->add_dims(d);
  for (auto x : v) t->add_float_data(x);
}

onnx::NodeProto* node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in, std::string out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(out + "_node");
  for (auto& i : in) n->add_input(i);
  n->add_output(out);
  return n;
}

}  // namespace

TEST_F(Hostile, RangeOfAbsurdLengthIsRefusedBeforeAllocating) {
  // Range(0, 1e15, 1): 8 PB of float32 that a shape-folding planner would try to build at load time.
  auto m = graph_with([](onnx::GraphProto* g) {
    float_init(g, "start", {}, {0.0f});
    float_init(g, "limit", {}, {1e15f});
    float_init(g, "delta", {}, {1.0f});
    node(g, "Range", {"start", "limit", "delta"}, "r");
    auto* mx = node(g, "ReduceMax", {"r"}, "m");
    auto* keep = mx->add_attribute();
    keep->set_name("keepdims");
    keep->set_type(onnx::AttributeProto::INT);
    keep->set_i(1);
    node(g, "Add", {"x", "m"}, "y");
  });
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  expect_error(write(m), "(at most 2^34)");
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 512 * 1024) << "peak RSS grew by " << (after.ru_maxrss - before.ru_maxrss) << " kB";
}

TEST_F(Hostile, ExpandToAbsurdShapeIsRefusedBeforeAllocating) {
  auto m = graph_with([](onnx::GraphProto* g) {
    int64_init(g, "shape", {3}, {int64_t{1} << 40, int64_t{1} << 40, 4});
    node(g, "Expand", {"x", "shape"}, "e");
    auto* mx = node(g, "ReduceMax", {"e"}, "y");
    auto* axes = mx->add_attribute();
    axes->set_name("axes");
    axes->set_type(onnx::AttributeProto::INTS);
    axes->add_ints(0);
    auto* keep = mx->add_attribute();
    keep->set_name("keepdims");
    keep->set_type(onnx::AttributeProto::INT);
    keep->set_i(0);
  });
  expect_error(write(m), "more than 2^34 elements");
}

TEST_F(Hostile, SliceWithExtremeBoundsClampsInsteadOfOverflowing) {
  // starts/ends/steps at the ends of int64 (what exporters write for "to the end": INT64_MAX) must clamp to the
  // axis as ONNX says, not overflow into a huge or negative element count.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  struct Case { int64_t start, end, step; float want; int64_t count; };
  // x = [1, 2, 3, 4]; y = x + sum(Slice(x)) so every case gives a [1,4] output.
  for (const Case& k : {Case{kMax, kMin, kMin, 4, 1}, Case{kMin, kMax, kMax, 1, 1}, Case{kMin, kMax, 1, 10, 4},
                        Case{kMax, kMin, -1, 10, 4}, Case{kMax, kMax, 1, 0, 0}, Case{2, kMin, -2, 4, 2}}) {
    SCOPED_TRACE(fmt::format("start {} end {} step {}", k.start, k.end, k.step));
    auto m = graph_with([&](onnx::GraphProto* g) {
      int64_init(g, "starts", {1}, {k.start});
      int64_init(g, "ends", {1}, {k.end});
      int64_init(g, "axes", {1}, {1});
      int64_init(g, "steps", {1}, {k.step});
      node(g, "Slice", {"x", "starts", "ends", "axes", "steps"}, "s");
      int64_init(g, "sum_axes", {1}, {1});
      auto* sum = node(g, "ReduceSum", {"s", "sum_axes"}, "t");
      auto* keep = sum->add_attribute();
      keep->set_name("keepdims");
      keep->set_type(onnx::AttributeProto::INT);
      keep->set_i(1);
      node(g, "Add", {"x", "t"}, "y");
    });
    auto model = nn::Model::compile(nn::import_onnx(write(m)));
    nn::Run run(model);
    float x[4] = {1, 2, 3, 4};
    auto y = run.forward(x, {1, 4}).at(0);
    ASSERT_EQ(y.element_count(), 4);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(y.data<float>()[i], x[i] + k.want) << i;
  }
  auto zero_step = graph_with([](onnx::GraphProto* g) {
    int64_init(g, "starts", {1}, {0});
    int64_init(g, "ends", {1}, {4});
    int64_init(g, "axes", {1}, {1});
    int64_init(g, "steps", {1}, {0});
    node(g, "Slice", {"x", "starts", "ends", "axes", "steps"}, "y");
  });
  expect_error(write(zero_step, "zero_step.onnx"), "step 0");
}

TEST_F(Hostile, MalformedEinsumEquations) {
  for (const auto& [eq, reason] : std::vector<std::pair<std::string, std::string>>{
           {"ij,jk->>ik", "'>'"}, {"ij,jk->ik->i", "two '->'"}, {"ij->ij", "the node 2"}, {"", "empty"},
           {"i.j,jk->ik", "stray '.'"}, {"ijk,jk->ik", "its operand has 2"}, {"i1,jk->ik", "'1' is not a letter"}}) {
    SCOPED_TRACE(eq);
    auto m = graph_with([&](onnx::GraphProto* g) {
      float_init(g, "w", {4, 4}, std::vector<float>(16, 0.5f));
      auto* n = node(g, "Einsum", {"x", "w"}, "y");
      auto* a = n->add_attribute();
      a->set_name("equation");
      a->set_type(onnx::AttributeProto::STRING);
      a->set_s(eq);
    });
    m.mutable_opset_import(0)->set_version(12);
    expect_error(write(m), reason);
  }
}

TEST_F(Hostile, ScatterNDIndexOutOfRange) {
  for (int64_t bad : {int64_t{4}, int64_t{-5}, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    SCOPED_TRACE(bad);
    auto m = graph_with([&](onnx::GraphProto* g) {
      int64_init(g, "indices", {1, 2}, {0, bad});
      float_init(g, "updates", {1}, {9.0f});
      node(g, "ScatterND", {"x", "indices", "updates"}, "y");
    });
    expect_error(write(m), "out of range");
  }
}
