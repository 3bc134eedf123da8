#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline_file.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using xfer::pipeline::Pipeline;

namespace {
Pipeline small_pipeline() {
  Pipeline p;
  p.featurizer_spec.model = "pixels";
  p.featurizer = {{"model", "pixels"}, {"dim", 3}};
  p.preprocessing.width = 28;
  p.preprocessing.height = 28;
  p.preprocessing.channels = 1;
  p.class_names = {"NORMAL", "PNEUMONIA"};
  p.classifier.n_classes = 2;
  p.classifier.n_features = 3;
  p.classifier.multinomial = false;
  p.classifier.coefficients = Eigen::MatrixXd(1, 3);
  p.classifier.coefficients << 0.1, -0.2, 1.0 / 3.0;
  p.classifier.intercepts = Eigen::VectorXd::Constant(1, 0.7);
  p.training = {{"n_images", 10}};
  return p;
}

std::string error_of(const fs::path& path) {
  try {
    xfer::pipeline::load_pipeline(path);
  } catch (const xfer::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(PipelineFile, RoundTripIsExact) {
  auto path = fs::temp_directory_path() / "xfer-test-pipeline.json";
  xfer::pipeline::save_pipeline(path, small_pipeline());
  auto back = xfer::pipeline::load_pipeline(path);
  EXPECT_EQ(back.class_names, small_pipeline().class_names);
  EXPECT_EQ(back.classifier.coefficients, small_pipeline().classifier.coefficients);  // bit-exact doubles
  EXPECT_EQ(back.classifier.intercepts, small_pipeline().classifier.intercepts);
  EXPECT_EQ(xfer::image::to_json(back.preprocessing), xfer::image::to_json(small_pipeline().preprocessing));
  EXPECT_EQ(back.featurizer_spec.model, "pixels");
}

TEST(PipelineFile, NewerFormatVersionIsRefusedWithTheFix) {
  auto path = fs::temp_directory_path() / "xfer-test-pipeline-v99.json";
  xfer::pipeline::save_pipeline(path, small_pipeline());
  auto j = nlohmann::json::parse(xfer::read_file(path));
  j["format_version"] = 99;
  xfer::write_file_atomically(path, j.dump());
  auto message = error_of(path);
  EXPECT_NE(message.find("xfer-test-pipeline-v99.json"), std::string::npos) << message;
  EXPECT_NE(message.find("version 99"), std::string::npos) << message;
}

TEST(PipelineFile, DamagedFilesNameTheFile) {
  auto path = fs::temp_directory_path() / "xfer-test-pipeline-damaged.json";
  xfer::write_file_atomically(path, "{\"format\": \"xfer-pipeline\", \"format_version\": 1}");
  EXPECT_NE(error_of(path).find("damaged pipeline file"), std::string::npos) << error_of(path);
  xfer::write_file_atomically(path, "[1, 2");
  EXPECT_NE(error_of(path).find("invalid JSON"), std::string::npos) << error_of(path);
  EXPECT_NE(error_of(fs::temp_directory_path() / "no-such-pipeline.json").find("no such pipeline file"),
            std::string::npos);
}

TEST(PipelineFile, ClassCountMustMatchTheClassifier) {
  auto path = fs::temp_directory_path() / "xfer-test-pipeline-classes.json";
  auto p = small_pipeline();
  p.class_names.push_back("COVID");
  xfer::pipeline::save_pipeline(path, p);
  EXPECT_NE(error_of(path).find("3 class names but a classifier for 2 classes"), std::string::npos) << error_of(path);
}
