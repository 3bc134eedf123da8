#pragma once
// Choosing regParam (and elasticNetParam) without hand-tuning: stratified k-fold cross-validation over a grid, as
// sklearn's LogisticRegressionCV and Spark's CrossValidator + ParamGridBuilder do, then the model on all rows at
// the chosen point.
//
// Folds: the rows of each class, shuffled with the seed (std::mt19937_64 and libstdc++'s std::shuffle), are dealt
// to the folds in turn, the turn carrying on from one class to the next — so each fold holds every class's count
// to within one row and the fold sizes differ by at most one. Fold f is validated on its own rows after a fit on
// the others.
//
// Grid: per elastic-net value a, the reg values given, or automatically grid_size values log-spaced from reg_max
// down to reg_max * min_ratio, where reg_max = g_max / max(a, kRidgeShare) and g_max is the largest |gradient| of
// the data term at the start over all rows (LogisticRegressionTrainer::null_gradient_max, glmnet's lambda_max:
// for a > 0 every coefficient is 0 at reg_max; for ridge, glmnet's trick of a small stand-in share).
//
// Each fold walks its grid from the largest reg down, every fit warm-started from the previous one (glmnet,
// LogisticRegressionCV). The final model is the fit on all rows at the chosen point, at the training tol,
// warm-started from the mean of the folds' models there. A path stops early once the mean score has not improved
// for `patience` grid values in a row (the curve is past its best).
//
// Cost: warm starts shorten the fold fits little (L-BFGS's linear rate, not the distance from the start, sets the
// iteration count, and each grid step moves the optimum), so cross-validation costs about as many fits as it runs:
// ~9x a single fit on 2 cores with the default grid (bench/ml/bench_cross_validation.py).
//
// Score: per fold on its validation rows, unweighted (as sklearn's scorers): log_loss (mean -log p of the true
// class, sklearn's log_loss with eps = float64 epsilon), accuracy, or roc_auc (sklearn's roc_auc_score; one-vs-rest
// macro for more than 2 classes). The chosen point has the best mean over the folds (lowest log loss, highest
// accuracy or AUC); ties go to the larger reg (the simpler model).
//
// Parallelism: the folds' paths (and the path on all rows) run on parallel threads, each fit single-threaded when
// there are at least as many paths as threads. Results do not depend on the thread count or the scheduling.
//
// Distributed use: with allreduce_sum every rank deals its own rows into folds and passes them here; each fit
// reduces its statistics and gradients through allreduce_sum (as train_logistic_regression does) and the
// validation sums of every fold and grid value go through it too, so all ranks choose the same point. The fits
// then run one at a time in a fixed order (path by path per grid value), so every rank issues the same sequence
// of collectives; roc_auc, which needs every rank's scores, is refused.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ml/logistic_regression.h"

namespace xfer {
class Progress;
}

namespace xfer::ml {

// The L1 share that stands in for a = 0 when placing the top of the automatic grid (glmnet uses 0.001; we found a
// tenth of a share too strong a ridge at the top for InceptionV3 features, see bench/ml/bench_cross_validation.py).
inline constexpr double kRidgeShare = 0.1;

struct CrossValidationOptions {
  int folds = 5;
  uint64_t seed = 0;
  std::vector<double> reg_values;          // empty: the automatic grid
  int grid_size = 10;                      // automatic grid: number of values
  double min_ratio = 1e-4;                 // automatic grid: smallest / largest
  std::vector<double> elastic_net_values;  // empty: the one value of the training options
  std::string metric = "log_loss";         // log_loss | accuracy | roc_auc
  int patience = 2;                        // grid values without improvement before a path stops; 0: never
  // The fold fits' tol when above the training tol; the final fit always uses the training tol. Scores only rank
  // the grid: at 1e-5 the choice matched the exact one on every data set tested, at a third fewer iterations than
  // 1e-6 (tests/ml/test_cross_validation_sklearn.py, bench/ml/bench_cross_validation.py). 0: the training tol.
  double tol = 1e-5;
  int threads = 0;                         // 0: OpenMP's maximum
  std::vector<int> fold_of_row;            // given folds (one index in [0, folds) per row); empty: stratified_folds
};

struct CrossValidationPoint {
  double reg = 0.0;
  double elastic_net = 0.0;
  std::vector<double> fold_scores;  // one per fold; empty when the path stopped before this point
  double mean = 0.0;                // over the folds (NaN when not evaluated)
  double std = 0.0;                 // population standard deviation over the folds
  bool evaluated() const { return !fold_scores.empty(); }
};

struct CrossValidationResult {
  std::string metric;
  int folds = 0;
  uint64_t seed = 0;
  std::vector<CrossValidationPoint> grid;  // by elastic-net value, then reg decreasing
  size_t best = 0;                         // index into grid
  LogisticRegressionModel model;           // fitted on all rows at grid[best]
  double seconds = 0.0;
  int fits = 0;                            // fits run (folds and the final one), for the speed figures
  int64_t iterations = 0;                  // their L-BFGS iterations, summed
  int refit_iterations = 0;                // of the final fit on all rows

  bool lower_is_better() const { return metric == "log_loss"; }
  // {metric, folds, seed, grid: [{reg, elastic_net, fold_scores, mean, std}], chosen: {index, reg, elastic_net,
  // mean, std}, fits, iterations, seconds}; the model is not included.
  nlohmann::json to_json() const;
  static CrossValidationResult from_json(const nlohmann::json& json);  // without the model
  // The short table `xfer train` prints: one row per evaluated point, the chosen one marked.
  std::string to_table() const;
};

// Fold index of each row (see the header comment); labels in [0, n_classes).
std::vector<int> stratified_folds(std::span<const int> labels, int n_classes, int folds, uint64_t seed);

// How many fits cross-validation runs when no path stops early or grows: folds x elastic-net values x reg values,
// and the final fit (the total for a progress bar).
int64_t planned_fits(const CrossValidationOptions& cv);

// options: the fit options shared by every fit (max_iter, tol, standardize, intercept, class weight, family);
// its reg / elastic_net are replaced by the grid's. Throws UsageError for bad cross-validation options (folds < 2,
// a class with fewer rows than folds, an empty or negative grid, an unknown metric) and what the trainer throws.
// progress, when given, advances by one per fit.
CrossValidationResult cross_validate_logistic_regression(const float* x, int64_t n, int64_t d,
                                                         const std::vector<int>& labels, int n_classes,
                                                         const LogisticRegressionOptions& options,
                                                         const CrossValidationOptions& cv, Progress* progress = nullptr,
                                                         const std::function<void(double*, size_t)>& allreduce_sum = {});

}  // namespace xfer::ml
