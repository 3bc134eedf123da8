#include "ml/logistic_regression.h"

#include <lbfgs.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ml/blas_threads.h"
#include "ml/logistic_objective.h"
#include "util/error.h"
#include "util/job_events.h"
#include "util/progress.h"

namespace xfer::ml {

namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr int kSlots = LogisticObjective::kSlots;
constexpr int64_t kBlockRows = LogisticObjective::kBlockRows;

void validate(const float* x, int64_t n, int64_t d, std::span<const int> labels, int n_classes,
              const LogisticRegressionOptions& o, bool distributed) {
  if (!(o.reg >= 0.0) || !std::isfinite(o.reg)) usage_fail("logistic regression: reg must be >= 0 (got {})", o.reg);
  if (!(o.elastic_net >= 0.0 && o.elastic_net <= 1.0))
    usage_fail("logistic regression: elastic_net must be in [0, 1] (got {})", o.elastic_net);
  if (o.max_iter <= 0) usage_fail("logistic regression: max_iter must be > 0 (got {})", o.max_iter);
  if (!(o.tol > 0.0) || !std::isfinite(o.tol)) usage_fail("logistic regression: tol must be > 0 (got {})", o.tol);
  if (o.family != "auto" && o.family != "binomial" && o.family != "multinomial")
    usage_fail("logistic regression: family must be auto, binomial or multinomial (got '{}')", o.family);
  if (n_classes < 2) usage_fail("logistic regression: needs at least 2 classes (got {})", n_classes);
  if (o.family == "binomial" && n_classes != 2)
    usage_fail("logistic regression: family binomial needs exactly 2 classes (got {})", n_classes);
  // One rank of several may hold no rows (more ranks than parts); the whole job must hold some (checked later).
  if (n < 0 || (n == 0 && !distributed)) fail("logistic regression: no training rows");
  if (d <= 0) fail("logistic regression: no features (d = {})", d);
  if (x == nullptr && n > 0) fail("logistic regression: no feature matrix");
  if (static_cast<int64_t>(labels.size()) != n)
    fail("logistic regression: {} labels for {} rows", labels.size(), n);
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= n_classes)
      fail("logistic regression: row {}: label {} is outside [0, {})", i, labels[i], n_classes);
  // A fast scan first; the slow search for the position only when something is wrong.
  bool all_finite = true;
  const int64_t count = n * d;
#pragma omp parallel for reduction(&& : all_finite) schedule(static)
  for (int64_t i = 0; i < count; ++i) all_finite = all_finite && std::isfinite(x[i]);
  if (!all_finite)
    for (int64_t i = 0; i < count; ++i)
      if (!std::isfinite(x[i]))
        fail("logistic regression: row {}, feature {}: value {} is not finite", i / d, i % d, x[i]);
}

// Column sums sum_i w_i * f(x_ij) over the local rows in a fixed order (blocks -> slots -> slot order), so the
// result does not depend on the thread count.
template <typename F>
Eigen::VectorXd weighted_column_sums(const float* x, int64_t n, int64_t d, const std::vector<double>& row_weight,
                                     F f) {
  Eigen::MatrixXd slots = Eigen::MatrixXd::Zero(d, kSlots);
  const int64_t n_blocks = (n + kBlockRows - 1) / kBlockRows;
#pragma omp parallel for schedule(static, 1)  // slot s on thread s % T (see logistic_objective.cpp)
  for (int slot = 0; slot < kSlots; ++slot) {
    double* acc = slots.col(slot).data();
    for (int64_t block = slot; block < n_blocks; block += kSlots) {
      const int64_t end = std::min(n, (block + 1) * kBlockRows);
      for (int64_t i = block * kBlockRows; i < end; ++i) {
        const float* row = x + i * d;
        const double w = row_weight[i];
        for (int64_t j = 0; j < d; ++j) acc[j] += w * f(j, static_cast<double>(row[j]));
      }
    }
  }
  Eigen::VectorXd sums = Eigen::VectorXd::Zero(d);
  for (int slot = 0; slot < kSlots; ++slot) sums += slots.col(slot);
  return sums;
}

struct OptimiserState {
  LogisticObjective* objective;
  LogisticRegressionOptions options;
  TrainingSummary* summary;
  Progress* progress;
  bool first_evaluation = true;
  int iteration_offset = 0;  // iterations of the earlier phases
  double start_l1 = 0.0;     // the L1 term at the start point (non-zero only for a warm start)
};

// The float32 phase stops at this relative objective decrease (its products are good to ~1e-7 relative).
constexpr double kFloat32PhaseTol = 1e-6;

lbfgsfloatval_t evaluate(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g, const int /*n*/,
                         const lbfgsfloatval_t /*step*/) {
  auto* state = static_cast<OptimiserState*>(instance);
  const double value = state->objective->evaluate_with_gradient(x, g);
  if (state->first_evaluation) {
    // liblbfgs's evaluations leave out the L1 term; add it so the history holds the full objective.
    state->summary->objective_history.push_back(value + state->start_l1);
    state->first_evaluation = false;
  }
  return value;
}

int progress(void* instance, const lbfgsfloatval_t* /*x*/, const lbfgsfloatval_t* /*g*/, const lbfgsfloatval_t fx,
             const lbfgsfloatval_t /*xnorm*/, const lbfgsfloatval_t /*gnorm*/, const lbfgsfloatval_t /*step*/,
             int /*n*/, int k, int /*ls*/) {
  auto* state = static_cast<OptimiserState*>(instance);
  state->summary->objective_history.push_back(fx);  // liblbfgs includes the L1 term here in OWL-QN mode
  state->summary->iterations = state->iteration_offset + k;
  if (state->progress) {
    // Only a fit with a bar publishes its objective: cross-validation's fold fits, run in parallel, have none.
    job_events::loss(state->summary->iterations, fx);
    state->progress->set_detail(fmt::format("objective {:.6g}", fx));
    state->progress->advance(1);
  }
  return 0;
}

std::string describe(int code) {
  switch (code) {
    case LBFGS_SUCCESS: return "converged: gradient norm below tol";
    case LBFGS_STOP: return "converged: relative objective decrease below tol";
    case LBFGS_ALREADY_MINIMIZED: return "converged: the initial point is already a minimum";
    case LBFGSERR_MAXIMUMITERATION: return "max_iter reached";
    case LBFGSERR_ROUNDING_ERROR: return "stopped: no further decrease within machine precision";
    case LBFGSERR_MAXIMUMLINESEARCH: return "stopped: line search reached its maximum evaluations";
    case LBFGSERR_MINIMUMSTEP: return "stopped: line search step below its minimum";
    case LBFGSERR_MAXIMUMSTEP: return "stopped: line search step above its maximum";
    case LBFGSERR_WIDTHTOOSMALL: return "stopped: line search interval too small (machine precision)";
    case LBFGSERR_INCREASEGRADIENT: return "stopped: the search direction does not decrease the objective";
    default: return fmt::format("stopped: liblbfgs status {}", code);
  }
}

}  // namespace

struct LogisticRegressionTrainer::State {
  const float* x = nullptr;
  int64_t n = 0, d = 0;
  std::span<const int> labels;
  int n_classes = 0;
  LogisticRegressionOptions options;
  std::function<void(double*, size_t)> allreduce_sum;
  bool multinomial = false;
  std::vector<double> class_weight;     // per class (sklearn's 'balanced' or 1)
  std::vector<double> weighted_counts;  // per class, over all ranks
  double total_weight = 0.0;
  Eigen::VectorXd sigma;                // MLlib's feature standard deviations, over all ranks
  Eigen::VectorXd mean;                 // the weighted feature means, over all ranks (virtual centring)

  // The optimisation space of a fit: theta_kj = beta_kj * sigma_j (the standardised space) except for L1 without
  // standardisation, where OWL-QN's single constant needs the penalty on the original coefficients themselves.
  LogisticObjective::Problem problem(double reg, double elastic_net) const {
    const double l1 = reg * elastic_net;
    const double l2 = reg * (1.0 - elastic_net);
    LogisticObjective::Problem p;
    p.x = x;
    p.n = n;
    p.d = d;
    p.labels = labels.data();
    p.class_weight = class_weight;
    p.total_weight = total_weight;
    p.binomial = !multinomial;
    p.n_classes = n_classes;
    p.fit_intercept = options.fit_intercept;
    p.scale.resize(d);
    p.l2.resize(d);
    for (int64_t j = 0; j < d; ++j) {
      const bool constant = !(sigma[j] > 0.0);
      if (options.standardize || l1 == 0.0) {
        p.scale[j] = constant ? 0.0 : 1.0 / sigma[j];
        p.l2[j] = constant ? 0.0 : (options.standardize ? l2 : l2 / (sigma[j] * sigma[j]));
      } else {
        p.scale[j] = constant ? 0.0 : 1.0;
        p.l2[j] = constant ? 0.0 : l2;
      }
    }
    p.allreduce_sum = allreduce_sum;
    if (options.fit_intercept) p.mean = mean;  // virtual centring, as MLlib's fitWithMean
    return p;
  }

  // MLlib's start: zero coefficients, intercepts from the (weighted) class frequencies.
  void cold_start(double* theta, size_t n_coef, size_t n_params) const {
    std::fill(theta, theta + n_params, 0.0);
    if (!options.fit_intercept) return;
    if (!multinomial) {
      if (weighted_counts[0] > 0 && weighted_counts[1] > 0) theta[n_coef] = std::log(weighted_counts[1] / weighted_counts[0]);
    } else {
      double mean_log = 0.0;
      for (double c : weighted_counts) mean_log += std::log1p(c);
      mean_log /= n_classes;
      for (int k = 0; k < n_classes; ++k) theta[n_coef + k] = std::log1p(weighted_counts[k]) - mean_log;
    }
  }
};

LogisticRegressionTrainer::LogisticRegressionTrainer(const float* x, int64_t n, int64_t d, std::span<const int> labels,
                                                     int n_classes, const LogisticRegressionOptions& options,
                                                     std::function<void(double*, size_t)> allreduce_sum)
    : state_(std::make_unique<State>()) {
  validate(x, n, d, labels, n_classes, options, static_cast<bool>(allreduce_sum));
  State& s = *state_;
  s.x = x;
  s.n = n;
  s.d = d;
  s.labels = labels;
  s.n_classes = n_classes;
  s.options = options;
  s.allreduce_sum = std::move(allreduce_sum);
  s.multinomial = options.family == "multinomial" || (options.family == "auto" && n_classes > 2);

  // Class counts over all ranks, then the class weights (sklearn's 'balanced': n / (K * count_k)).
  std::vector<double> counts(static_cast<size_t>(n_classes), 0.0);
  for (int64_t i = 0; i < n; ++i) counts[labels[i]] += 1.0;
  if (s.allreduce_sum) s.allreduce_sum(counts.data(), counts.size());
  double total_rows = 0.0;
  for (double c : counts) total_rows += c;
  if (total_rows == 0) fail("logistic regression: no training rows on any rank");
  s.class_weight.assign(counts.size(), 1.0);
  if (options.balanced_class_weight)
    for (size_t k = 0; k < counts.size(); ++k)
      s.class_weight[k] = counts[k] > 0 ? total_rows / (static_cast<double>(n_classes) * counts[k]) : 0.0;
  s.weighted_counts.resize(counts.size());
  for (size_t k = 0; k < counts.size(); ++k) s.weighted_counts[k] = counts[k] * s.class_weight[k];
  double total_weight_sq = 0.0;
  for (size_t k = 0; k < counts.size(); ++k) {
    s.total_weight += s.weighted_counts[k];
    total_weight_sq += counts[k] * s.class_weight[k] * s.class_weight[k];
  }
  std::vector<double> row_weight(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) row_weight[i] = s.class_weight[labels[i]];

  // MLlib's feature standard deviation: the weighted unbiased variance sum w (x - mean)^2 / (W - sum w^2 / W),
  // computed in two passes (mean, then squared deviations) for accuracy.
  Eigen::VectorXd& mean = s.mean;
  mean = weighted_column_sums(x, n, d, row_weight, [](int64_t, double v) { return v; });
  if (s.allreduce_sum) s.allreduce_sum(mean.data(), static_cast<size_t>(d));
  mean /= s.total_weight;
  Eigen::VectorXd m2 = weighted_column_sums(x, n, d, row_weight, [&mean](int64_t j, double v) {
    const double c = v - mean[j];
    return c * c;
  });
  if (s.allreduce_sum) s.allreduce_sum(m2.data(), static_cast<size_t>(d));
  const double denominator = s.total_weight - total_weight_sq / s.total_weight;
  s.sigma.resize(d);
  for (int64_t j = 0; j < d; ++j) s.sigma[j] = denominator > 0 ? std::sqrt(std::max(0.0, m2[j] / denominator)) : 0.0;
}

LogisticRegressionTrainer::~LogisticRegressionTrainer() = default;

int64_t LogisticRegressionTrainer::rows() const { return state_->n; }
bool LogisticRegressionTrainer::multinomial() const { return state_->multinomial; }

double LogisticRegressionTrainer::null_gradient_max(double elastic_net) {
  const State& s = *state_;
  if (!(elastic_net >= 0.0 && elastic_net <= 1.0))
    usage_fail("logistic regression: elastic_net must be in [0, 1] (got {})", elastic_net);
  // Any positive reg selects the space of this L1 share; the L2 factors are zeroed so only the data term is left.
  auto problem = s.problem(1.0, elastic_net);
  problem.l2.setZero();
  LogisticObjective objective(std::move(problem));
  const size_t n_coef = static_cast<size_t>(objective.n_outputs()) * static_cast<size_t>(s.d);
  std::vector<double> theta(objective.n_parameters(), 0.0), gradient(objective.n_parameters());
  // At the intercept-only optimum (intercepts at the log class frequencies, where the intercept gradient is 0 and
  // the data term cannot fall without a coefficient), not MLlib's multinomial start (log1p of the counts).
  if (s.options.fit_intercept) {
    double smallest = INFINITY;
    for (double c : s.weighted_counts)
      if (c > 0) smallest = std::min(smallest, c);
    auto log_count = [&](double c) { return c > 0 ? std::log(c) : std::log(smallest) - 50.0; };  // absent: p ~ 0
    if (!s.multinomial) theta[n_coef] = log_count(s.weighted_counts[1]) - log_count(s.weighted_counts[0]);
    else
      for (int k = 0; k < s.n_classes; ++k) theta[n_coef + k] = log_count(s.weighted_counts[k]);
  }
  const ScopedSingleThreadedBlas single_threaded_blas;
  objective.evaluate_with_gradient(theta.data(), gradient.data());
  double largest = 0.0;
  for (size_t i = 0; i < n_coef; ++i) largest = std::max(largest, std::abs(gradient[i]));
  return largest;
}

LogisticRegressionModel LogisticRegressionTrainer::fit(double reg, double elastic_net,
                                                       const LogisticRegressionModel* warm_start, Progress* progress_bar,
                                                       double tol_override) {
  const State& s = *state_;
  if (!(reg >= 0.0) || !std::isfinite(reg)) usage_fail("logistic regression: reg must be >= 0 (got {})", reg);
  if (!(elastic_net >= 0.0 && elastic_net <= 1.0))
    usage_fail("logistic regression: elastic_net must be in [0, 1] (got {})", elastic_net);
  const int64_t d = s.d;
  const double l1 = reg * elastic_net;
  LogisticObjective objective(s.problem(reg, elastic_net));
  const int K = objective.n_outputs();
  const size_t n_coef = static_cast<size_t>(K) * static_cast<size_t>(d);
  const size_t n_params = objective.n_parameters();

  lbfgsfloatval_t* theta = lbfgs_malloc(static_cast<int>(n_params));
  if (theta == nullptr) fail("logistic regression: cannot allocate {} parameters", n_params);
  s.cold_start(theta, n_coef, n_params);
  double start_l1 = 0.0;  // the L1 term at the start, which liblbfgs leaves out of its first evaluation
  if (warm_start != nullptr) {
    if (warm_start->multinomial != s.multinomial || warm_start->n_features != d ||
        warm_start->coefficients.rows() != K || warm_start->intercepts.size() != K) {
      lbfgs_free(theta);
      fail("logistic regression: the warm start model does not have this problem's shape");
    }
    objective.pack(warm_start->coefficients, warm_start->intercepts, theta);
    for (size_t i = 0; i < n_coef; ++i) start_l1 += l1 * std::abs(theta[i]);
  }

  LogisticRegressionModel model;
  model.n_classes = s.n_classes;
  model.n_features = d;
  model.multinomial = s.multinomial;
  LogisticRegressionOptions options = s.options;
  options.reg = reg;
  options.elastic_net = elastic_net;
  if (tol_override > 0.0) {
    if (!std::isfinite(tol_override)) usage_fail("logistic regression: tol must be > 0 (got {})", tol_override);
    options.tol = tol_override;
  }

  // Two phases on one L-BFGS problem: float32 block products while the objective still falls by more than
  // their ~1e-7 relative noise can follow (the bulk of the iterations, at about half the cost), then float64
  // products from that point to the requested tol with the iterations left. Both phases are deterministic.
  OptimiserState state{&objective, options, &model.summary, progress_bar};
  state.start_l1 = start_l1;
  int code = LBFGS_SUCCESS;
  const ScopedSingleThreadedBlas single_threaded_blas;  // our OpenMP loop is the parallel level
  for (const bool float32 : {true, false}) {
    const int iterations_left = options.max_iter - model.summary.iterations;
    if (iterations_left <= 0) break;
    // A tolerance the float32 products can meet needs no float64 finish (it would only restart L-BFGS's memory).
    if (!float32 && options.tol > kFloat32PhaseTol && code >= 0) break;
    const double tol = float32 ? std::max(options.tol, kFloat32PhaseTol) : options.tol;
    lbfgs_parameter_t param;
    lbfgs_parameter_init(&param);
    param.m = 10;
    param.max_iterations = iterations_left;
    param.epsilon = tol;
    param.past = 3;  // over 3 iterations: one slow L-BFGS step is not convergence
    param.delta = tol;
    if (l1 > 0.0) {
      param.orthantwise_c = l1;
      param.orthantwise_start = 0;
      param.orthantwise_end = static_cast<int>(n_coef);
      param.linesearch = LBFGS_LINESEARCH_BACKTRACKING;
    }
    objective.set_float32_products(float32);
    state.iteration_offset = model.summary.iterations;
    lbfgsfloatval_t final_value = 0.0;
    code = lbfgs(static_cast<int>(n_params), theta, &final_value, evaluate, progress, &state, &param);
    if (code == LBFGSERR_OUTOFMEMORY) {
      lbfgs_free(theta);
      fail("logistic regression: out of memory in L-BFGS");
    }
    if (code < 0 && code != LBFGSERR_MAXIMUMITERATION && code != LBFGSERR_ROUNDING_ERROR &&
        code != LBFGSERR_MAXIMUMLINESEARCH && code != LBFGSERR_MINIMUMSTEP && code != LBFGSERR_MAXIMUMSTEP &&
        code != LBFGSERR_WIDTHTOOSMALL && code != LBFGSERR_INCREASEGRADIENT) {
      lbfgs_free(theta);
      fail("logistic regression: L-BFGS failed: {}", describe(code));
    }
  }
  model.summary.converged = code >= 0;
  model.summary.stop_reason = describe(code);
  objective.unpack(theta, model.coefficients, model.intercepts);
  lbfgs_free(theta);
  if (progress_bar) progress_bar->finish();

  if (s.multinomial) {
    // Over-parameterised softmax: intercepts centred to sum 0 (never penalised, so free to shift); without
    // regularisation the coefficients are not identifiable either and are centred per feature, as MLlib does.
    if (options.fit_intercept) model.intercepts.array() -= model.intercepts.mean();
    if (reg == 0.0)
      for (int64_t j = 0; j < d; ++j) model.coefficients.col(j).array() -= model.coefficients.col(j).mean();
  }
  return model;
}

LogisticRegressionModel train_logistic_regression(const float* x, int64_t n, int64_t d,
                                                  const std::vector<int>& labels, int n_classes,
                                                  const LogisticRegressionOptions& options, Progress* progress_bar,
                                                  const std::function<void(double*, size_t)>& allreduce_sum) {
  LogisticRegressionTrainer trainer(x, n, d, labels, n_classes, options, allreduce_sum);
  return trainer.fit(options.reg, options.elastic_net, nullptr, progress_bar);
}

void LogisticRegressionModel::predict_proba(const float* x, int64_t n, double* probs) const {
  const int64_t d = n_features;
  const int K = n_classes;
  const int outputs = static_cast<int>(coefficients.rows());
  const Eigen::MatrixXd wt = coefficients.transpose();
  const int64_t n_blocks = (n + kBlockRows - 1) / kBlockRows;
  const ScopedSingleThreadedBlas single_threaded_blas;
#pragma omp parallel
  {
    RowMatrixD xb(kBlockRows, d);
    RowMatrixD margins(kBlockRows, outputs);
#pragma omp for schedule(static)
    for (int64_t block = 0; block < n_blocks; ++block) {
      const int64_t row0 = block * kBlockRows;
      const int64_t rows = std::min(kBlockRows, n - row0);
      auto xblock = xb.topRows(rows);
      xblock = Eigen::Map<const RowMatrixF>(x + row0 * d, rows, d).cast<double>();
      auto m = margins.topRows(rows);
      m.noalias() = xblock * wt;
      for (int64_t r = 0; r < rows; ++r) {
        double* p = probs + (row0 + r) * K;
        if (!multinomial) {
          const double p1 = 1.0 / (1.0 + std::exp(-(m(r, 0) + intercepts[0])));
          p[0] = 1.0 - p1;
          p[1] = p1;
          continue;
        }
        double max_margin = -INFINITY;
        for (int k = 0; k < K; ++k) max_margin = std::max(max_margin, m(r, k) + intercepts[k]);
        double sum = 0.0;
        for (int k = 0; k < K; ++k) sum += (p[k] = std::exp(m(r, k) + intercepts[k] - max_margin));
        for (int k = 0; k < K; ++k) p[k] /= sum;
      }
    }
  }
}

std::vector<int> LogisticRegressionModel::predict(const float* x, int64_t n) const {
  std::vector<double> probs(static_cast<size_t>(n) * n_classes);
  predict_proba(x, n, probs.data());
  std::vector<int> classes(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double* p = probs.data() + i * n_classes;
    classes[i] = static_cast<int>(std::max_element(p, p + n_classes) - p);
  }
  return classes;
}

nlohmann::json LogisticRegressionModel::to_json() const {
  nlohmann::json coef = nlohmann::json::array();
  for (int64_t k = 0; k < coefficients.rows(); ++k) {
    std::vector<double> row(static_cast<size_t>(coefficients.cols()));
    for (int64_t j = 0; j < coefficients.cols(); ++j) row[j] = coefficients(k, j);
    coef.push_back(row);
  }
  std::vector<double> b(intercepts.data(), intercepts.data() + intercepts.size());
  return {{"type", "logistic_regression"},
          {"format_version", 1},
          {"n_classes", n_classes},
          {"n_features", n_features},
          {"multinomial", multinomial},
          {"coefficients", coef},
          {"intercepts", b},
          {"summary",
           {{"iterations", summary.iterations},
            {"converged", summary.converged},
            {"stop_reason", summary.stop_reason},
            {"objective_history", summary.objective_history}}}};
}

LogisticRegressionModel LogisticRegressionModel::from_json(const nlohmann::json& json) {
  try {
    if (json.at("type").get<std::string>() != "logistic_regression")
      fail("model: type is '{}', not logistic_regression", json.at("type").get<std::string>());
    if (json.at("format_version").get<int>() != 1)
      fail("model: format_version {} is not supported (this xfer reads 1)", json.at("format_version").get<int>());
    LogisticRegressionModel model;
    model.n_classes = json.at("n_classes").get<int>();
    model.n_features = json.at("n_features").get<int64_t>();
    model.multinomial = json.at("multinomial").get<bool>();
    const int64_t rows = model.multinomial ? model.n_classes : 1;
    if (model.n_classes < 2 || model.n_features <= 0 || (!model.multinomial && model.n_classes != 2))
      fail("model: inconsistent n_classes {} / n_features {} / multinomial {}", model.n_classes, model.n_features,
           model.multinomial);
    const auto& coef = json.at("coefficients");
    const auto& b = json.at("intercepts");
    if (static_cast<int64_t>(coef.size()) != rows || static_cast<int64_t>(b.size()) != rows)
      fail("model: expected {} coefficient rows and intercepts, found {} and {}", rows, coef.size(), b.size());
    model.coefficients.resize(rows, model.n_features);
    model.intercepts.resize(rows);
    for (int64_t k = 0; k < rows; ++k) {
      const auto& row = coef.at(k);
      if (static_cast<int64_t>(row.size()) != model.n_features)
        fail("model: coefficient row {} has {} values, expected {}", k, row.size(), model.n_features);
      for (int64_t j = 0; j < model.n_features; ++j) model.coefficients(k, j) = row.at(j).get<double>();
      model.intercepts[k] = b.at(k).get<double>();
    }
    if (json.contains("summary")) {
      const auto& s = json.at("summary");
      model.summary.iterations = s.value("iterations", 0);
      model.summary.converged = s.value("converged", false);
      model.summary.stop_reason = s.value("stop_reason", std::string());
      model.summary.objective_history = s.value("objective_history", std::vector<double>());
    }
    return model;
  } catch (const nlohmann::json::exception& e) {
    fail("model: malformed logistic regression JSON: {}", e.what());
  }
}

}  // namespace xfer::ml
