// Input validation of the ml library: bad options are UsageErrors, bad data are Errors naming the row.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "ml/classification_metrics.h"
#include "ml/logistic_regression.h"
#include "util/error.h"

namespace xfer::ml {
namespace {

struct Data {
  std::vector<float> x{0.f, 1.f, 1.f, 0.f, 2.f, 2.f, 3.f, 1.f};  // 4 rows x 2 features
  std::vector<int> y{0, 1, 0, 1};
};

template <typename E>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

TEST(LogisticRegressionValidation, RejectsBadOptionsAsUsageErrors) {
  Data data;
  auto train = [&](LogisticRegressionOptions o, int classes = 2) {
    return [=] { train_logistic_regression(data.x.data(), 4, 2, data.y, classes, o); };
  };
  LogisticRegressionOptions o;
  o.reg = -0.1;
  EXPECT_NE(message_of<UsageError>(train(o)).find("reg"), std::string::npos);
  o = {};
  o.elastic_net = 1.5;
  EXPECT_NE(message_of<UsageError>(train(o)).find("elastic_net"), std::string::npos);
  o = {};
  o.max_iter = 0;
  EXPECT_NE(message_of<UsageError>(train(o)).find("max_iter"), std::string::npos);
  o = {};
  o.tol = 0;
  EXPECT_NE(message_of<UsageError>(train(o)).find("tol"), std::string::npos);
  o = {};
  o.family = "poisson";
  EXPECT_NE(message_of<UsageError>(train(o)).find("family"), std::string::npos);
  o = {};
  o.family = "binomial";
  EXPECT_NE(message_of<UsageError>(train(o, 3)).find("binomial"), std::string::npos);
  EXPECT_NE(message_of<UsageError>(train({}, 1)).find("2 classes"), std::string::npos);
}

TEST(LogisticRegressionValidation, RejectsBadDataNamingTheRow) {
  Data data;
  const LogisticRegressionOptions o;
  data.y[2] = 5;
  EXPECT_NE(message_of<Error>([&] { train_logistic_regression(data.x.data(), 4, 2, data.y, 2, o); })
                .find("row 2: label 5"),
            std::string::npos);
  data = {};
  data.x[7] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(message_of<Error>([&] { train_logistic_regression(data.x.data(), 4, 2, data.y, 2, o); })
                .find("row 3, feature 1"),
            std::string::npos);
  data = {};
  data.x[0] = std::numeric_limits<float>::infinity();
  EXPECT_NE(message_of<Error>([&] { train_logistic_regression(data.x.data(), 4, 2, data.y, 2, o); })
                .find("row 0, feature 0"),
            std::string::npos);
  data = {};
  EXPECT_NE(message_of<Error>([&] { train_logistic_regression(data.x.data(), 0, 2, {}, 2, o); }).find("no training"),
            std::string::npos);
  EXPECT_NE(message_of<Error>([&] { train_logistic_regression(data.x.data(), 3, 2, data.y, 2, o); }).find("labels"),
            std::string::npos);
}

TEST(LogisticRegressionValidation, MalformedModelJsonIsAnError) {
  EXPECT_THROW(LogisticRegressionModel::from_json(nlohmann::json::parse(R"({"type":"tree"})")), Error);
  EXPECT_THROW(LogisticRegressionModel::from_json(nlohmann::json::object()), Error);
  auto j = nlohmann::json::parse(
      R"({"type":"logistic_regression","format_version":1,"n_classes":2,"n_features":2,"multinomial":false,
          "coefficients":[[1.0]],"intercepts":[0.0]})");
  EXPECT_NE(message_of<Error>([&] { LogisticRegressionModel::from_json(j); }).find("coefficient row 0"),
            std::string::npos);
}

TEST(MetricsValidation, RejectsInconsistentInput) {
  const std::vector<std::string> names{"a", "b"};
  EXPECT_THROW(compute_metrics({0, 1}, {0.5, 0.5, 0.5}, names), UsageError);
  EXPECT_THROW(compute_metrics({0, 2}, {0.5, 0.5, 0.5, 0.5}, names), UsageError);
  EXPECT_THROW(compute_metrics({}, {}, names), UsageError);
  EXPECT_THROW(compute_metrics({0}, {0.5}, {"only"}), UsageError);
  EXPECT_THROW(compute_metrics({0, 1}, {0.5, std::nan(""), 0.5, 0.5}, names), UsageError);
}

}  // namespace
}  // namespace xfer::ml
