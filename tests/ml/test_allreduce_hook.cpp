// The allreduce_sum hook: two "ranks" (threads, xgboost-style in-process collective) each holding half of the
// rows, summing their partial sums through the hook, must take identical steps and reach the model a single fit
// on all rows reaches.
#include <barrier>
#include <cmath>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "ml/cross_validation.h"
#include "ml/logistic_regression.h"

namespace xfer::ml {
namespace {

// Sums the two ranks' buffers in rank order, so both get bit-identical results.
class TwoRankSum {
 public:
  void operator()(int rank, double* values, size_t count) {
    buffers_[rank].assign(values, values + count);
    sync_.arrive_and_wait();
    for (size_t i = 0; i < count; ++i) values[i] = buffers_[0][i] + buffers_[1][i];
    sync_.arrive_and_wait();
  }

 private:
  std::barrier<> sync_{2};
  std::vector<double> buffers_[2];
};

TEST(AllreduceHook, TwoRanksReachTheSingleProcessModel) {
  const int64_t n = 600, d = 5;
  const int classes = 3;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<float> x(n * d);
  std::vector<int> y(n);
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<int>(i % classes);
    for (int64_t j = 0; j < d; ++j) x[i * d + j] = noise(rng) + (j == y[i] ? 1.5f : 0.f) + 2.f;
  }
  LogisticRegressionOptions o;
  o.reg = 0.01;
  o.elastic_net = 0.2;
  o.tol = 1e-15;
  o.max_iter = 1000;
  o.balanced_class_weight = true;
  const auto whole = train_logistic_regression(x.data(), n, d, y, classes, o);

  TwoRankSum sum;
  LogisticRegressionModel part[2];
  auto run = [&](int rank) {
    const int64_t begin = rank == 0 ? 0 : 250, end = rank == 0 ? 250 : n;  // unequal halves on purpose
    const std::vector<int> labels(y.begin() + begin, y.begin() + end);
    part[rank] = train_logistic_regression(x.data() + begin * d, end - begin, d, labels, classes, o, nullptr,
                                           [&sum, rank](double* v, size_t c) { sum(rank, v, c); });
  };
  std::thread r0(run, 0), r1(run, 1);
  r0.join();
  r1.join();

  EXPECT_EQ(part[0].coefficients, part[1].coefficients);  // identical steps on both ranks
  EXPECT_EQ(part[0].intercepts, part[1].intercepts);
  const double scale = whole.coefficients.cwiseAbs().maxCoeff();
  EXPECT_LT((part[0].coefficients - whole.coefficients).cwiseAbs().maxCoeff() / scale, 1e-6);
  // The unpenalised intercepts are the flattest direction of the objective: both fits stop within machine
  // precision of the objective, a little further apart there (1.0e-6 measured on one CPU).
  EXPECT_LT((part[0].intercepts - whole.intercepts).cwiseAbs().maxCoeff() / scale, 1e-5);
  EXPECT_NEAR(part[0].summary.objective_history.back(), whole.summary.objective_history.back(),
              1e-12 * std::abs(whole.summary.objective_history.back()));
}

}  // namespace
}  // namespace xfer::ml

namespace xfer::ml {
namespace {

// Cross-validation through the hook: each "rank" deals its own rows into stratified folds; with the sums of every
// fit and every fold's validation going through allreduce, both ranks choose the same reg and end with the same
// model — the result a single process reaches on all rows with the union of the two ranks' folds.
TEST(AllreduceHook, CrossValidationOnTwoRanksMatchesOneProcessWithTheSameFolds) {
  const int64_t n = 900, d = 6, split = 420;
  const int classes = 3;
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<float> x(n * d);
  std::vector<int> y(n);
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<int>((i * 7) % classes);
    for (int64_t j = 0; j < d; ++j) x[i * d + j] = noise(rng) + (j == y[i] ? 0.8f : 0.f) + 1.f;
  }
  LogisticRegressionOptions o;
  o.tol = 1e-10;
  o.max_iter = 500;
  CrossValidationOptions cv;
  cv.folds = 4;
  cv.grid_size = 6;
  cv.tol = 1e-10;
  cv.patience = 0;

  TwoRankSum sum;
  CrossValidationResult part[2];
  std::vector<int> folds[2];
  auto run = [&](int rank) {
    const int64_t begin = rank == 0 ? 0 : split, end = rank == 0 ? split : n;
    const std::vector<int> labels(y.begin() + begin, y.begin() + end);
    folds[rank] = stratified_folds(labels, classes, cv.folds, cv.seed + static_cast<uint64_t>(rank));
    CrossValidationOptions mine = cv;
    mine.fold_of_row = folds[rank];
    part[rank] = cross_validate_logistic_regression(x.data() + begin * d, end - begin, d, labels, classes, o, mine, nullptr,
                                                    [&sum, rank](double* v, size_t c) { sum(rank, v, c); });
  };
  std::thread r0(run, 0), r1(run, 1);
  r0.join();
  r1.join();
  EXPECT_EQ(part[0].best, part[1].best);
  EXPECT_EQ(part[0].model.coefficients, part[1].model.coefficients);  // identical steps on both ranks
  for (size_t g = 0; g < part[0].grid.size(); ++g) EXPECT_EQ(part[0].grid[g].fold_scores, part[1].grid[g].fold_scores);

  CrossValidationOptions whole = cv;
  whole.fold_of_row = folds[0];
  whole.fold_of_row.insert(whole.fold_of_row.end(), folds[1].begin(), folds[1].end());
  const auto single = cross_validate_logistic_regression(x.data(), n, d, y, classes, o, whole);
  EXPECT_EQ(single.best, part[0].best);
  ASSERT_EQ(single.grid.size(), part[0].grid.size());
  for (size_t g = 0; g < single.grid.size(); ++g) {
    EXPECT_NEAR(single.grid[g].reg, part[0].grid[g].reg, 1e-12 * single.grid[g].reg);
    for (int f = 0; f < cv.folds; ++f) EXPECT_NEAR(single.grid[g].fold_scores[f], part[0].grid[g].fold_scores[f], 1e-5);
  }
  const double scale = single.model.coefficients.cwiseAbs().maxCoeff();
  EXPECT_LT((part[0].model.coefficients - single.model.coefficients).cwiseAbs().maxCoeff() / scale, 1e-6);
}

}  // namespace
}  // namespace xfer::ml
