#include "ml/cross_validation.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "ml/blas_threads.h"
#include "ml/classification_metrics.h"
#include "util/error.h"
#include "util/progress.h"

namespace xfer::ml {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The rows arranged so that every fold's training rows are one contiguous range (the trainer reads one block):
// the rows sorted by fold, F0 F1 ... F(k-1), followed by a second copy of F0 ... F(k-3). Fold f (f < k-1) trains
// on the k-1 folds that follow it cyclically, starting at F(f+1); fold k-1 trains on F0 ... F(k-2) at the start.
// 2 - 2/k times the data instead of k - 1 copies.
struct FoldLayout {
  std::vector<float> x;
  std::vector<int> labels;
  std::vector<int64_t> offset;  // k + 1: fold f's rows are [offset[f], offset[f + 1]) of the first copy
  int64_t n = 0;

  int64_t validation_begin(int f) const { return offset[f]; }
  int64_t validation_rows(int f) const { return offset[f + 1] - offset[f]; }
  int64_t training_begin(int f) const { return f + 1 == static_cast<int>(offset.size()) - 1 ? 0 : offset[f + 1]; }
  int64_t training_rows(int f) const { return n - validation_rows(f); }
};

FoldLayout arrange_folds(const float* x, int64_t n, int64_t d, const std::vector<int>& labels,
                         const std::vector<int>& fold_of_row, int folds) {
  FoldLayout layout;
  layout.n = n;
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(folds));
  for (int64_t i = 0; i < n; ++i) members[static_cast<size_t>(fold_of_row[static_cast<size_t>(i)])].push_back(i);
  layout.offset.assign(static_cast<size_t>(folds) + 1, 0);
  for (int f = 0; f < folds; ++f) layout.offset[f + 1] = layout.offset[f] + static_cast<int64_t>(members[f].size());
  const int64_t total = n + layout.offset[folds - 2];
  layout.x.resize(static_cast<size_t>(total * d));
  layout.labels.resize(static_cast<size_t>(total));
  int64_t row = 0;
  auto append = [&](int f) {
    for (int64_t i : members[static_cast<size_t>(f)]) {
      std::copy_n(x + i * d, d, layout.x.data() + row * d);
      layout.labels[static_cast<size_t>(row++)] = labels[static_cast<size_t>(i)];
    }
  };
  for (int f = 0; f < folds; ++f) append(f);
  for (int f = 0; f + 2 < folds; ++f) append(f);
  return layout;
}

// The sums one fold contributes at one grid point, reduced over ranks before the score is formed:
// [sum of -log p(true class), rows predicted right, rows].
std::array<double, 3> validation_sums(const std::vector<double>& probs, std::span<const int> labels, int k) {
  // sklearn 1.2's log_loss: clip to [eps, 1 - eps] with eps the float64 machine epsilon, renormalise the row.
  const double eps = std::numeric_limits<double>::epsilon();
  std::array<double, 3> sums{0.0, 0.0, static_cast<double>(labels.size())};
  for (size_t i = 0; i < labels.size(); ++i) {
    const double* p = probs.data() + i * static_cast<size_t>(k);
    double row_sum = 0.0;
    int argmax = 0;
    for (int c = 0; c < k; ++c) {
      row_sum += std::clamp(p[c], eps, 1.0 - eps);
      if (p[c] > p[argmax]) argmax = c;
    }
    sums[0] += -std::log(std::clamp(p[labels[i]], eps, 1.0 - eps) / row_sum);
    sums[1] += argmax == labels[i] ? 1.0 : 0.0;
  }
  return sums;
}

double roc_auc_score(const std::vector<double>& probs, std::span<const int> labels, int k) {
  std::vector<std::string> names(static_cast<size_t>(k));
  for (int c = 0; c < k; ++c) names[static_cast<size_t>(c)] = std::to_string(c);
  return compute_metrics(std::vector<int>(labels.begin(), labels.end()), probs, names).roc_auc;
}

std::vector<double> automatic_reg_grid(double gradient_max, double elastic_net, int size, double min_ratio) {
  if (!(gradient_max > 0.0))
    usage_fail("cross-validation: the features carry no signal at the start (every gradient is 0); pass --reg");
  const double top = gradient_max / std::max(elastic_net, kRidgeShare);
  std::vector<double> grid(static_cast<size_t>(size));
  for (int i = 0; i < size; ++i)
    grid[static_cast<size_t>(i)] = size == 1 ? top : top * std::pow(min_ratio, static_cast<double>(i) / (size - 1));
  return grid;
}

// One fold's walk down the reg grid of one elastic-net value.
struct Path {
  size_t alpha = 0;  // index into the elastic-net values
  int fold = 0;
  LogisticRegressionTrainer* trainer = nullptr;     // the fold's, shared by the paths of every elastic-net value
  std::optional<LogisticRegressionModel> previous;  // the warm start for the next grid value
  size_t next = 0;                                  // next grid index
  bool busy = false;
};

}  // namespace

int64_t planned_fits(const CrossValidationOptions& cv) {
  std::vector<double> regs = cv.reg_values;
  std::sort(regs.begin(), regs.end());
  const auto distinct = static_cast<int64_t>(std::unique(regs.begin(), regs.end()) - regs.begin());
  return int64_t{cv.folds} * std::max<int64_t>(1, static_cast<int64_t>(cv.elastic_net_values.size())) *
             (regs.empty() ? cv.grid_size : distinct) + 1;
}

std::vector<int> stratified_folds(std::span<const int> labels, int n_classes, int folds, uint64_t seed) {
  if (folds < 2) usage_fail("cross-validation: needs at least 2 folds (got {})", folds);
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(n_classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= n_classes)
      fail("cross-validation: row {}: label {} is outside [0, {})", i, labels[i], n_classes);
    by_class[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));
  }
  std::vector<int> fold_of_row(labels.size(), 0);
  std::mt19937_64 rng(seed);
  int turn = 0;
  for (auto& rows : by_class) {
    std::shuffle(rows.begin(), rows.end(), rng);
    for (int64_t i : rows) {
      fold_of_row[static_cast<size_t>(i)] = turn;
      turn = (turn + 1) % folds;
    }
  }
  return fold_of_row;
}

CrossValidationResult cross_validate_logistic_regression(const float* x, int64_t n, int64_t d,
                                                         const std::vector<int>& labels, int n_classes,
                                                         const LogisticRegressionOptions& options,
                                                         const CrossValidationOptions& cv, Progress* progress,
                                                         const std::function<void(double*, size_t)>& allreduce_sum) {
  const auto start_time = std::chrono::steady_clock::now();
  if (cv.metric != "log_loss" && cv.metric != "accuracy" && cv.metric != "roc_auc")
    usage_fail("cross-validation: metric must be log_loss, accuracy or roc_auc (got '{}')", cv.metric);
  if (cv.metric == "roc_auc" && allreduce_sum)
    usage_fail("cross-validation: roc_auc needs every rank's scores; use log_loss or accuracy when distributed");
  if (cv.folds < 2) usage_fail("cross-validation: needs at least 2 folds (got {})", cv.folds);
  if (cv.reg_values.empty() && (cv.grid_size < 1 || !(cv.min_ratio > 0.0 && cv.min_ratio <= 1.0)))
    usage_fail("cross-validation: the automatic grid needs grid_size >= 1 and min_ratio in (0, 1]");
  for (double r : cv.reg_values)
    if (!(r >= 0.0) || !std::isfinite(r)) usage_fail("cross-validation: reg values must be >= 0 (got {})", r);
  std::vector<double> alphas = cv.elastic_net_values.empty() ? std::vector<double>{options.elastic_net}
                                                             : cv.elastic_net_values;
  for (double a : alphas)
    if (!(a >= 0.0 && a <= 1.0)) usage_fail("cross-validation: elastic_net values must be in [0, 1] (got {})", a);

  // The trainer on all rows validates the data and options before anything else is built.
  auto full_trainer = std::make_unique<LogisticRegressionTrainer>(x, n, d, labels, n_classes, options, allreduce_sum);

  // Every class needs a row in every fold, over all ranks, or some fold validates without it.
  std::vector<double> counts(static_cast<size_t>(n_classes), 0.0);
  for (int y : labels) counts[static_cast<size_t>(y)] += 1.0;
  if (allreduce_sum) allreduce_sum(counts.data(), counts.size());
  for (int c = 0; c < n_classes; ++c)
    if (counts[static_cast<size_t>(c)] < cv.folds)
      usage_fail("cross-validation: class {} has {} rows, fewer than the {} folds; pass fewer folds or a fixed reg", c,
                 counts[static_cast<size_t>(c)], cv.folds);

  const ScopedSingleThreadedBlas single_threaded_blas;  // one guard around every fit's (see blas_threads.h)
  const auto fold_of_row = cv.fold_of_row.empty() ? stratified_folds(labels, n_classes, cv.folds, cv.seed) : cv.fold_of_row;
  if (static_cast<int64_t>(fold_of_row.size()) != n)
    usage_fail("cross-validation: {} fold indices for {} rows", fold_of_row.size(), n);
  std::vector<int64_t> fold_rows(static_cast<size_t>(cv.folds), 0);
  for (int f : fold_of_row) {
    if (f < 0 || f >= cv.folds) usage_fail("cross-validation: fold index {} outside [0, {})", f, cv.folds);
    ++fold_rows[static_cast<size_t>(f)];
  }
  for (int f = 0; f < cv.folds; ++f)
    if (fold_rows[static_cast<size_t>(f)] == 0 && !allreduce_sum) usage_fail("cross-validation: fold {} has no rows", f);
  const FoldLayout layout = arrange_folds(x, n, d, labels, fold_of_row, cv.folds);

  // The grid per elastic-net value (automatic grids may grow downwards, see below).
  const bool automatic = cv.reg_values.empty();
  const double step = automatic && cv.grid_size > 1 ? std::pow(cv.min_ratio, 1.0 / (cv.grid_size - 1)) : 1.0;
  std::vector<std::vector<double>> regs(alphas.size());
  for (size_t a = 0; a < alphas.size(); ++a) {
    regs[a] = automatic ? automatic_reg_grid(full_trainer->null_gradient_max(alphas[a]), alphas[a], cv.grid_size,
                                             cv.min_ratio)
                        : cv.reg_values;
    std::sort(regs[a].begin(), regs[a].end(), std::greater<>());  // the path goes from the largest penalty down
    regs[a].erase(std::unique(regs[a].begin(), regs[a].end()), regs[a].end());
  }
  const size_t max_points = automatic ? 2 * static_cast<size_t>(cv.grid_size) : 0;  // with the extension
  const double fit_tol = std::max(options.tol, cv.tol);

  // One trainer per fold (its statistics are the same for every elastic-net value; fit() only reads them).
  std::vector<std::unique_ptr<LogisticRegressionTrainer>> fold_trainers;
  for (int f = 0; f < cv.folds; ++f) {
    const int64_t begin = layout.training_begin(f), rows = layout.training_rows(f);
    fold_trainers.push_back(std::make_unique<LogisticRegressionTrainer>(
        layout.x.data() + begin * d, rows, d, std::span<const int>(layout.labels).subspan(begin, rows), n_classes,
        options, allreduce_sum));
  }
  std::vector<Path> paths;
  for (size_t a = 0; a < alphas.size(); ++a) {
    for (int f = 0; f < cv.folds; ++f) {
      Path p;
      p.alpha = a;
      p.fold = f;
      p.trainer = fold_trainers[static_cast<size_t>(f)].get();
      paths.push_back(std::move(p));
    }
  }

  // Scheduling: a worker takes the runnable path with the lowest next grid index, so the folds move down the grid
  // together and a stop is noticed early. limit[a]: grid indices at or beyond it are not run (the path stopped).
  std::vector<size_t> limit(alphas.size());
  std::vector<std::vector<std::vector<double>>> scores(alphas.size());  // [alpha][grid][fold]
  std::vector<std::vector<int>> done_folds(alphas.size());
  std::vector<std::vector<std::vector<LogisticRegressionModel>>> models(alphas.size());  // [alpha][grid][fold]
  auto add_row = [&](size_t a) {
    scores[a].emplace_back(static_cast<size_t>(cv.folds), kNaN);
    done_folds[a].push_back(0);
    models[a].emplace_back(static_cast<size_t>(cv.folds));
  };
  for (size_t a = 0; a < alphas.size(); ++a) {
    limit[a] = regs[a].size();
    for (size_t g = 0; g < regs[a].size(); ++g) add_row(a);
  }
  std::vector<size_t> rows_complete(alphas.size(), 0), best_row(alphas.size(), 0), since_best(alphas.size(), 0);
  const bool lower_better = cv.metric == "log_loss";
  auto mean_of = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); };

  std::mutex mutex;
  std::condition_variable changed;
  std::exception_ptr failure;
  int total_fits = 0;
  int64_t total_iterations = 0;

  auto pick = [&]() -> Path* {  // under the mutex
    Path* best = nullptr;
    for (auto& p : paths) {
      if (p.busy || p.next >= limit[p.alpha]) continue;
      if (best == nullptr || p.next < best->next) best = &p;
    }
    return best;
  };
  auto any_busy = [&] { return std::any_of(paths.begin(), paths.end(), [](const Path& p) { return p.busy; }); };

  // One fit and its validation score. Runs without the mutex: it reads regs[a][g], which only grows (under the
  // mutex, by reserve-free push_back of later values) — so the value is copied first.
  auto run_step = [&](Path& p, double reg) -> std::pair<double, LogisticRegressionModel> {
    LogisticRegressionModel model = p.trainer->fit(reg, alphas[p.alpha], p.previous ? &*p.previous : nullptr, nullptr, fit_tol);
    const int64_t begin = layout.validation_begin(p.fold), rows = layout.validation_rows(p.fold);
    std::vector<double> probs(static_cast<size_t>(rows) * static_cast<size_t>(n_classes));
    if (rows > 0) model.predict_proba(layout.x.data() + begin * d, rows, probs.data());
    const auto fold_labels = std::span<const int>(layout.labels).subspan(begin, rows);
    double score = kNaN;
    if (cv.metric == "roc_auc") {
      score = roc_auc_score(probs, fold_labels, n_classes);
    } else {
      auto sums = validation_sums(probs, fold_labels, n_classes);
      if (allreduce_sum) allreduce_sum(sums.data(), sums.size());
      score = cv.metric == "log_loss" ? sums[0] / sums[2] : sums[1] / sums[2];
    }
    return {score, std::move(model)};
  };

  // Under the mutex, after path p finished grid index g: records the score and moves the stop rule on.
  auto record = [&](Path& p, size_t g, double score, LogisticRegressionModel model) {
    const size_t a = p.alpha;
    ++total_fits;
    total_iterations += model.summary.iterations;
    p.previous = model;
    if (progress) progress->advance(1);
    if (g >= limit[a]) return;  // run ahead of a stop decided meanwhile: not used
    scores[a][g][static_cast<size_t>(p.fold)] = score;
    models[a][g][static_cast<size_t>(p.fold)] = std::move(model);
    ++done_folds[a][g];
    // Grid rows complete in order (each fold's path is sequential); judge each completed row once.
    while (rows_complete[a] < limit[a] && done_folds[a][rows_complete[a]] == cv.folds) {
      const size_t row = rows_complete[a]++;
      const double mean = mean_of(scores[a][row]);
      const double best = mean_of(scores[a][best_row[a]]);
      const bool better = row == 0 || (lower_better ? mean < best : mean > best);  // ties keep the larger reg
      if (better) {
        best_row[a] = row;
        since_best[a] = 0;
      } else if (cv.patience > 0 && ++since_best[a] >= static_cast<size_t>(cv.patience)) {
        limit[a] = row + 1;
      }
      // An automatic grid whose best is its smallest value so far grows downwards, one step at a time (the optimum
      // is not at the edge of what was searched), up to twice the grid.
      if (automatic && best_row[a] + 1 == regs[a].size() && row + 1 == regs[a].size() && regs[a].size() < max_points) {
        regs[a].push_back(regs[a].back() * step);
        add_row(a);
        limit[a] = regs[a].size();
      }
    }
  };

  const int max_threads = cv.threads > 0 ? cv.threads : std::max(1, omp_get_max_threads());
  // Distributed: one fit at a time in the order pick() gives, identical on every rank.
  const int workers = allreduce_sum ? 1 : std::max(1, std::min<int>(max_threads, static_cast<int>(paths.size())));
  const int threads_per_fit = std::max(1, max_threads / workers);

  auto worker = [&] {
    omp_set_num_threads(threads_per_fit);  // this thread's own OpenMP setting: the fit's parallel level
    std::unique_lock lock(mutex);
    while (true) {
      if (failure) return;
      Path* p = pick();
      if (p == nullptr) {
        if (!any_busy()) {
          changed.notify_all();
          return;
        }
        changed.wait(lock);
        continue;
      }
      p->busy = true;
      const size_t g = p->next;
      const double reg = regs[p->alpha][g];
      lock.unlock();
      std::pair<double, LogisticRegressionModel> step_result;
      try {
        step_result = run_step(*p, reg);
      } catch (...) {
        lock.lock();
        if (!failure) failure = std::current_exception();
        p->busy = false;
        changed.notify_all();
        return;
      }
      lock.lock();
      p->busy = false;
      p->next = g + 1;
      record(*p, g, step_result.first, std::move(step_result.second));
      changed.notify_all();
    }
  };
  {
    const int previous_threads = omp_get_max_threads();
    if (workers == 1) {
      worker();
    } else {
      std::vector<std::thread> pool;
      for (int w = 0; w < workers; ++w) pool.emplace_back(worker);
      for (auto& t : pool) t.join();
    }
    omp_set_num_threads(previous_threads);
  }
  if (failure) std::rethrow_exception(failure);

  // The scores of the evaluated rows and the choice over every elastic-net value.
  CrossValidationResult result;
  result.metric = cv.metric;
  result.folds = cv.folds;
  result.seed = cv.seed;
  size_t best_alpha = 0;
  for (size_t a = 0; a < alphas.size(); ++a) {
    const double candidate = mean_of(scores[a][best_row[a]]);
    const double incumbent = mean_of(scores[best_alpha][best_row[best_alpha]]);
    if (a > 0 && (lower_better ? candidate < incumbent : candidate > incumbent)) best_alpha = a;
    for (size_t g = 0; g < regs[a].size(); ++g) {
      CrossValidationPoint point{regs[a][g], alphas[a], {}, kNaN, kNaN};
      if (g < rows_complete[a]) {
        point.fold_scores = scores[a][g];
        point.mean = mean_of(point.fold_scores);
        double var = 0.0;
        for (double v : point.fold_scores) var += (v - point.mean) * (v - point.mean);
        point.std = std::sqrt(var / static_cast<double>(point.fold_scores.size()));
      }
      if (a == best_alpha && g == best_row[a]) result.best = result.grid.size();
      result.grid.push_back(std::move(point));
    }
  }
  if (best_alpha != alphas.size() - 1) {  // result.best was set while an earlier alpha still led: find it again
    size_t index = 0;
    for (size_t a = 0; a < best_alpha; ++a) index += regs[a].size();
    result.best = index + best_row[best_alpha];
  }

  // The model on all rows at the chosen point, at the training tol, warm-started from the folds' mean model there
  // (each fold saw 1 - 1/k of these rows, so their mean is close to the answer).
  const auto& fold_models = models[best_alpha][best_row[best_alpha]];
  LogisticRegressionModel start = fold_models.front();
  for (size_t f = 1; f < fold_models.size(); ++f) {
    start.coefficients += fold_models[f].coefficients;
    start.intercepts += fold_models[f].intercepts;
  }
  start.coefficients /= static_cast<double>(fold_models.size());
  start.intercepts /= static_cast<double>(fold_models.size());
  // The final fit is the one a watcher follows: it gets its own bar, and so its objective reaches the status page
  // (the folds', fitted in parallel, would interleave).
  std::optional<Progress> refit_progress;
  if (progress) refit_progress.emplace("train", options.max_iter, "iterations");
  result.model = full_trainer->fit(regs[best_alpha][best_row[best_alpha]], alphas[best_alpha], &start,
                                   refit_progress ? &*refit_progress : nullptr);
  if (refit_progress) refit_progress->finish();
  if (progress) progress->advance(1);
  result.refit_iterations = result.model.summary.iterations;
  result.fits = total_fits + 1;
  result.iterations = total_iterations + result.model.summary.iterations;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return result;
}

nlohmann::json CrossValidationResult::to_json() const {
  nlohmann::json points = nlohmann::json::array();
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const auto& p : grid)
    points.push_back({{"reg", p.reg},
                      {"elastic_net", p.elastic_net},
                      {"fold_scores", p.fold_scores},
                      {"mean", number(p.mean)},
                      {"std", number(p.std)}});
  const auto& b = grid.at(best);
  return {{"metric", metric},
          {"folds", folds},
          {"seed", seed},
          {"grid", points},
          {"chosen", {{"index", best}, {"reg", b.reg}, {"elastic_net", b.elastic_net}, {"mean", number(b.mean)}, {"std", number(b.std)}}},
          {"fits", fits},
          {"iterations", iterations},
          {"seconds", seconds}};
}

CrossValidationResult CrossValidationResult::from_json(const nlohmann::json& json) {
  try {
    CrossValidationResult r;
    r.metric = json.at("metric").get<std::string>();
    r.folds = json.at("folds").get<int>();
    r.seed = json.at("seed").get<uint64_t>();
    for (const auto& p : json.at("grid")) {
      CrossValidationPoint point;
      point.reg = p.at("reg").get<double>();
      point.elastic_net = p.at("elastic_net").get<double>();
      point.fold_scores = p.at("fold_scores").get<std::vector<double>>();
      point.mean = p.at("mean").is_null() ? kNaN : p.at("mean").get<double>();
      point.std = p.at("std").is_null() ? kNaN : p.at("std").get<double>();
      r.grid.push_back(std::move(point));
    }
    r.best = json.at("chosen").at("index").get<size_t>();
    if (r.best >= r.grid.size()) fail("cross-validation: chosen index {} outside the grid of {}", r.best, r.grid.size());
    r.fits = json.value("fits", 0);
    r.iterations = json.value("iterations", int64_t{0});
    r.seconds = json.value("seconds", 0.0);
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail("cross-validation: malformed record: {}", e.what());
  }
}

std::string CrossValidationResult::to_table() const {
  std::string text = fmt::format("cross-validation: {} stratified folds (seed {}), {} ({} is better); {} fits, {} "
                                 "iterations, {:.2f} s\n",
                                 folds, seed, metric, lower_is_better() ? "lower" : "higher", fits, iterations, seconds);
  text += fmt::format("  {:>10} {:>11} {:>10} {:>9}\n", "reg", "elastic_net", "mean", "std");
  size_t skipped = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    const auto& p = grid[i];
    if (!p.evaluated()) {
      ++skipped;
      continue;
    }
    text += fmt::format("  {:>10.3g} {:>11.3g} {:>10.4f} {:>9.4f}{}\n", p.reg, p.elastic_net, p.mean, p.std,
                        i == best ? "  <- chosen" : "");
  }
  if (skipped > 0) text += fmt::format("  ({} smaller reg values not tried: the score had stopped improving)\n", skipped);
  return text;
}

}  // namespace xfer::ml
