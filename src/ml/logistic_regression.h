#pragma once
// Logistic regression as Spark MLlib's LogisticRegression defines it, on an in-memory float32 matrix.
//
// Data convention: x is row-major n x d float32; feature j of row i is x[i * d + j]. labels[i] is the class
// index of row i, in [0, n_classes). Probabilities are n x K row-major doubles, K = n_classes (also for binomial:
// column 0 is P(class 0), column 1 is P(class 1)).
//
// Objective (MLlib's): (1/sum_i w_i) * sum_i w_i * logloss_i + reg * [(1 - a)/2 * ||beta||^2 + a * ||beta||_1],
// a = elastic_net. w_i = 1, or n / (K * count_k) for row i of class k with balanced_class_weight (sklearn's
// 'balanced'). The intercepts are never penalised. With standardize (MLlib's default) the penalty applies to the
// coefficients of the standardised features x_j / sigma_j (features are scaled, NOT centred, as in MLlib; sigma_j
// is the weighted unbiased standard deviation MLlib's summarizer computes, which is the sample std (n - 1) for
// unit weights); the coefficients reported are always in the original feature space. Features with sigma_j = 0
// get coefficient 0 (as MLlib). Without standardize the penalty applies to the original coefficients.
//
// family "binomial" (2 classes only): one coefficient vector, P(class 1) = sigmoid(x.beta + b).
// family "multinomial": K coefficient vectors, softmax, over-parameterised as MLlib; the intercepts are centred
// to sum 0, and with reg == 0 the coefficients of each feature are centred over the classes too (MLlib's choice
// for identifiability). family "auto": binomial for 2 classes, multinomial otherwise.
//
// Optimiser: liblbfgs, on the standardised coefficients and (with an intercept) virtually centred features, as
// Spark 3.1+'s fitWithMean: the same objective and minimiser, better conditioned (logistic_objective.h). L-BFGS (More-Thuente line search, m = 10) when reg * a == 0; OWL-QN (backtracking line
// search, orthantwise_c = reg * a over the coefficients, intercepts excluded) when reg * a > 0. tol is used as
// liblbfgs's relative objective-decrease criterion over 3 iterations (delta, past = 3) and its gradient criterion (epsilon).
//
// Precision and speed: the two products per block of rows (X_b W^T and G_b^T X_b) run single-threaded inside our
// own OpenMP loop over row blocks: in float32 on oneDNN's sgemm (ml/sgemm.h), in float64 on OpenBLAS (through
// Eigen's EIGEN_USE_BLAS), whose thread count is set to 1 for the duration of a fit / predict_proba call and
// restored afterwards (process-wide). The fit runs in
// two phases on the same objective: float32 products on the float32 data in place (about half the cost, objective
// good to ~1e-7 relative) until the relative decrease falls below max(tol, 1e-6), then float64 products (float64
// copy of each 64-row block) from that point with the iterations left, so tight tolerances converge to float64
// accuracy. Losses, probabilities and all sums are float64 throughout. max_iter counts both phases together.
//
// Determinism: the same input and options give the same bytes out, independent of the thread count: the rows
// are cut into fixed blocks assigned to a fixed number of partial-sum slots, each slot summed in row order in
// float64, and the slots added in slot order.
//
// Distributed use: allreduce_sum, when given, is applied in place to every vector of partial sums over the local
// rows (feature statistics, class counts, then per evaluation the data loss, weight sum and gradient) before they
// are combined, so each rank passes its own rows and an MPI sum makes all ranks take identical steps.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

namespace xfer {
class Progress;
}

namespace xfer::ml {

struct LogisticRegressionOptions {
  double reg = 0.0;           // MLlib regParam, >= 0
  double elastic_net = 0.0;   // MLlib elasticNetParam, in [0, 1]: 0 = L2, 1 = L1
  int max_iter = 100;         // > 0
  double tol = 1e-6;          // > 0
  bool standardize = true;
  bool fit_intercept = true;
  bool balanced_class_weight = false;
  std::string family = "auto";  // auto | binomial | multinomial
};

struct TrainingSummary {
  int iterations = 0;
  bool converged = false;
  std::vector<double> objective_history;  // objective before the first step, then after each iteration
  std::string stop_reason;
};

struct LogisticRegressionModel {
  int n_classes = 0;
  int64_t n_features = 0;
  bool multinomial = false;
  Eigen::MatrixXd coefficients;  // rows: K (multinomial) or 1 (binomial); columns: n_features; original space
  Eigen::VectorXd intercepts;    // K (multinomial) or 1 (binomial); zeros without fit_intercept
  TrainingSummary summary;

  // x: n x n_features row-major; probs: n x n_classes row-major, written by this call.
  void predict_proba(const float* x, int64_t n, double* probs) const;
  // Class index with the highest probability (the first on ties), for n rows.
  std::vector<int> predict(const float* x, int64_t n) const;

  // Exact round trip: doubles are written with round-trip precision.
  nlohmann::json to_json() const;
  static LogisticRegressionModel from_json(const nlohmann::json& json);  // Error on a malformed model
};

// One prepared training set for several fits at different penalties (a regularisation path, cross-validation
// folds): what every fit shares — the validated data, class weights and MLlib's feature standard deviations — is
// computed once (through allreduce_sum when given), and each fit may start from an earlier model (a warm start,
// as glmnet and sklearn's LogisticRegressionCV walk the path of decreasing penalty) instead of MLlib's start.
// x and labels are borrowed: they must outlive the trainer. fit() results do not depend on the thread count.
class LogisticRegressionTrainer {
 public:
  // options.reg and options.elastic_net are only validated here; each fit names its own.
  LogisticRegressionTrainer(const float* x, int64_t n, int64_t d, std::span<const int> labels, int n_classes,
                            const LogisticRegressionOptions& options,
                            std::function<void(double*, size_t)> allreduce_sum = {});
  ~LogisticRegressionTrainer();
  LogisticRegressionTrainer(const LogisticRegressionTrainer&) = delete;
  LogisticRegressionTrainer& operator=(const LogisticRegressionTrainer&) = delete;

  // warm_start: a model of the same shape (e.g. the fit at the previous, larger reg); converges to the same
  // optimum as a cold start, to tol. tol > 0 replaces the options' tol for this fit (cross-validation's fits need
  // less precision than the final model); a tol above the float32 phase's 1e-6 ends the fit in that phase.
  LogisticRegressionModel fit(double reg, double elastic_net, const LogisticRegressionModel* warm_start = nullptr,
                              Progress* progress = nullptr, double tol = 0.0);

  // The largest |gradient| of the data term over the coefficients at the intercept-only optimum (zero
  // coefficients, intercepts at the log class frequencies), in the space the penalty of elastic_net applies to:
  // with an L1 share a > 0 every coefficient stays 0 for reg * a >= this value (glmnet's lambda_max). Goes through
  // allreduce_sum when given.
  double null_gradient_max(double elastic_net);

  int64_t rows() const;  // local rows
  bool multinomial() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Throws UsageError for bad options (reg < 0, elastic_net outside [0,1], max_iter <= 0, tol <= 0, unknown family,
// binomial with n_classes != 2, n_classes < 2) and Error for bad data (n <= 0, d <= 0, labels.size() != n, a label
// outside [0, n_classes), a non-finite feature — the message names the row and column).
// progress, when given, advances by one per iteration and shows the objective.
LogisticRegressionModel train_logistic_regression(const float* x, int64_t n, int64_t d,
                                                  const std::vector<int>& labels, int n_classes,
                                                  const LogisticRegressionOptions& options,
                                                  Progress* progress = nullptr,
                                                  const std::function<void(double*, size_t)>& allreduce_sum = {});

}  // namespace xfer::ml
