// Hostile ONNX files: each must be an xfer::Error that names the file and the reason, never a crash or a
// wrong answer. The files are built here with libonnx's protobuf classes and then damaged.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <sys/resource.h>

#include <filesystem>
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
