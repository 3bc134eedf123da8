#include "ml/classification_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "util/error.h"

namespace xfer::ml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// sklearn's _binary_clf_curve: scores sorted decreasing (stable on the reversed mergesort order, which only
// matters for ties and those are merged anyway), one point per distinct score: cumulative true and false
// positives at that threshold.
struct BinaryCurve {
  std::vector<double> fps, tps, thresholds;
};

BinaryCurve binary_clf_curve(const std::vector<bool>& y, const std::vector<double>& score) {
  if (y.size() != score.size()) usage_fail("metrics: {} labels but {} scores", y.size(), score.size());
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  BinaryCurve c;
  double tp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    tp += y[order[i]] ? 1.0 : 0.0;
    if (i + 1 == order.size() || score[order[i + 1]] != score[order[i]]) {
      c.tps.push_back(tp);
      c.fps.push_back(static_cast<double>(i + 1) - tp);
      c.thresholds.push_back(score[order[i]]);
    }
  }
  return c;
}

std::string format_double(double v) { return std::isnan(v) ? std::string("n/a") : fmt::format("{:.4f}", v); }

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

RocCurve roc_curve(const std::vector<bool>& y_positive, const std::vector<double>& score) {
  BinaryCurve c = binary_clf_curve(y_positive, score);
  // drop_intermediate: keep the end points and the corners of the curve.
  if (c.fps.size() > 2) {
    BinaryCurve kept;
    const size_t m = c.fps.size();
    for (size_t i = 0; i < m; ++i) {
      bool keep = i == 0 || i + 1 == m;
      if (!keep) {
        const double dfps = c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1];
        const double dtps = c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1];
        keep = dfps != 0 || dtps != 0;
      }
      if (keep) {
        kept.fps.push_back(c.fps[i]);
        kept.tps.push_back(c.tps[i]);
        kept.thresholds.push_back(c.thresholds[i]);
      }
    }
    c = std::move(kept);
  }
  RocCurve r;
  const double total_fp = c.fps.empty() ? 0 : c.fps.back();
  const double total_tp = c.tps.empty() ? 0 : c.tps.back();
  r.fpr.push_back(0.0);
  r.tpr.push_back(0.0);
  r.thresholds.push_back(c.thresholds.empty() ? 1.0 : c.thresholds[0] + 1.0);
  for (size_t i = 0; i < c.fps.size(); ++i) {
    r.fpr.push_back(total_fp > 0 ? c.fps[i] / total_fp : kNaN);
    r.tpr.push_back(total_tp > 0 ? c.tps[i] / total_tp : kNaN);
    r.thresholds.push_back(c.thresholds[i]);
  }
  return r;
}

double roc_auc(const std::vector<bool>& y_positive, const std::vector<double>& score) {
  const size_t positives = static_cast<size_t>(std::count(y_positive.begin(), y_positive.end(), true));
  if (positives == 0 || positives == y_positive.size()) return kNaN;
  const RocCurve r = roc_curve(y_positive, score);
  double area = 0.0;  // the trapezoidal rule, as sklearn.metrics.auc
  for (size_t i = 1; i < r.fpr.size(); ++i) area += (r.fpr[i] - r.fpr[i - 1]) * (r.tpr[i] + r.tpr[i - 1]) / 2.0;
  return area;
}

double average_precision(const std::vector<bool>& y_positive, const std::vector<double>& score) {
  const BinaryCurve c = binary_clf_curve(y_positive, score);
  if (c.tps.empty()) return kNaN;
  const double total_tp = c.tps.back();
  // sum over thresholds (recall_i - recall_{i-1}) * precision_i; with no positive sklearn 1.2 sets recall to 1.
  double ap = 0.0, previous_recall = 0.0;
  for (size_t i = 0; i < c.tps.size(); ++i) {
    const double recall = total_tp > 0 ? c.tps[i] / total_tp : 1.0;
    const double predicted = c.tps[i] + c.fps[i];
    const double precision = predicted > 0 ? c.tps[i] / predicted : 0.0;
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
  }
  return ap;
}

ClassificationMetrics compute_metrics(const std::vector<int>& y_true, const std::vector<double>& probs,
                                      const std::vector<std::string>& class_names) {
  const int K = static_cast<int>(class_names.size());
  const size_t n = y_true.size();
  if (K < 2) usage_fail("metrics: need at least 2 classes (got {})", K);
  if (n == 0) usage_fail("metrics: no samples");
  if (probs.size() != n * static_cast<size_t>(K))
    usage_fail("metrics: {} probabilities for {} samples x {} classes", probs.size(), n, K);
  for (size_t i = 0; i < n; ++i)
    if (y_true[i] < 0 || y_true[i] >= K) usage_fail("metrics: sample {}: label {} outside [0, {})", i, y_true[i], K);
  for (size_t i = 0; i < probs.size(); ++i)
    if (!std::isfinite(probs[i]))
      usage_fail("metrics: sample {}, class {}: probability {} is not finite", i / K, i % K, probs[i]);

  ClassificationMetrics m;
  m.class_names = class_names;
  m.n_samples = static_cast<int64_t>(n);
  m.confusion_matrix.assign(K, std::vector<int64_t>(K, 0));
  int64_t correct = 0;
  // sklearn 1.2 log_loss: clip to [eps, 1 - eps] with eps the float64 machine epsilon, renormalise the row.
  const double eps = std::numeric_limits<double>::epsilon();
  double loss_sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double* p = probs.data() + i * K;
    const int predicted = static_cast<int>(std::max_element(p, p + K) - p);
    m.confusion_matrix[y_true[i]][predicted] += 1;
    correct += predicted == y_true[i];
    double row_sum = 0.0;
    for (int k = 0; k < K; ++k) row_sum += std::clamp(p[k], eps, 1.0 - eps);
    loss_sum += -std::log(std::clamp(p[y_true[i]], eps, 1.0 - eps) / row_sum);
  }
  m.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  m.log_loss = loss_sum / static_cast<double>(n);

  // Per class: precision/recall/F1 from the confusion matrix (0 where undefined, sklearn's zero_division
  // default), ROC AUC and average precision one-vs-rest.
  m.per_class.resize(K);
  std::vector<bool> positive(n);
  std::vector<double> score(n);
  for (int k = 0; k < K; ++k) {
    int64_t tp = m.confusion_matrix[k][k], predicted = 0, support = 0;
    for (int j = 0; j < K; ++j) {
      predicted += m.confusion_matrix[j][k];
      support += m.confusion_matrix[k][j];
    }
    ClassMetrics& c = m.per_class[k];
    c.support = support;
    c.precision = predicted > 0 ? static_cast<double>(tp) / static_cast<double>(predicted) : 0.0;
    c.recall = support > 0 ? static_cast<double>(tp) / static_cast<double>(support) : 0.0;
    c.f1 = c.precision + c.recall > 0 ? 2 * c.precision * c.recall / (c.precision + c.recall) : 0.0;
    for (size_t i = 0; i < n; ++i) {
      positive[i] = y_true[i] == k;
      score[i] = probs[i * K + k];
    }
    c.roc_auc = roc_auc(positive, score);
    c.average_precision = average_precision(positive, score);
    if (K > 2 || k == 1) m.roc_curves.push_back(roc_curve(positive, score));
  }
  if (K == 2) {
    m.roc_auc = m.per_class[1].roc_auc;
    m.pr_auc = m.per_class[1].average_precision;
  } else {
    double auc_sum = 0.0, ap_sum = 0.0;
    int defined = 0;
    for (const auto& c : m.per_class) {
      if (!std::isnan(c.roc_auc)) {
        auc_sum += c.roc_auc;
        ++defined;
      }
      ap_sum += c.average_precision;
    }
    m.roc_auc = defined > 0 ? auc_sum / defined : kNaN;
    m.pr_auc = ap_sum / K;
  }
  for (const auto& c : m.per_class) {
    m.macro_avg.precision += c.precision / K;
    m.macro_avg.recall += c.recall / K;
    m.macro_avg.f1 += c.f1 / K;
    const double w = static_cast<double>(c.support) / static_cast<double>(n);
    m.weighted_avg.precision += c.precision * w;
    m.weighted_avg.recall += c.recall * w;
    m.weighted_avg.f1 += c.f1 * w;
  }
  m.macro_avg.support = m.weighted_avg.support = static_cast<int64_t>(n);
  return m;
}

nlohmann::json ClassificationMetrics::to_json() const {
  nlohmann::json per = nlohmann::json::object();
  for (size_t k = 0; k < per_class.size(); ++k) {
    const auto& c = per_class[k];
    per[class_names[k]] = {{"precision", c.precision},      {"recall", c.recall},
                           {"f1", c.f1},                    {"support", c.support},
                           {"roc_auc", number_or_null(c.roc_auc)},
                           {"average_precision", number_or_null(c.average_precision)}};
  }
  auto averaged = [](const AveragedMetrics& a) {
    return nlohmann::json{{"precision", a.precision}, {"recall", a.recall}, {"f1", a.f1}, {"support", a.support}};
  };
  return {{"accuracy", accuracy},
          {"log_loss", number_or_null(log_loss)},
          {"roc_auc", number_or_null(roc_auc)},
          {"pr_auc", number_or_null(pr_auc)},
          {"confusion_matrix", confusion_matrix},
          {"per_class", per},
          {"macro_avg", averaged(macro_avg)},
          {"weighted_avg", averaged(weighted_avg)},
          {"class_names", class_names},
          {"n_samples", n_samples}};
}

std::string ClassificationMetrics::to_table() const {
  size_t width = 12;
  for (const auto& name : class_names) width = std::max(width, name.size());
  std::string out = fmt::format("{:<{}}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}\n", "class", width, "precision",
                                "recall", "f1", "support", "roc_auc", "avg_prec");
  for (size_t k = 0; k < per_class.size(); ++k) {
    const auto& c = per_class[k];
    out += fmt::format("{:<{}}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}\n", class_names[k], width,
                       format_double(c.precision), format_double(c.recall), format_double(c.f1), c.support,
                       format_double(c.roc_auc), format_double(c.average_precision));
  }
  for (const auto& [label, a] : {std::pair{"macro avg", macro_avg}, std::pair{"weighted avg", weighted_avg}})
    out += fmt::format("{:<{}}  {:>9}  {:>9}  {:>9}  {:>9}\n", label, width, format_double(a.precision),
                       format_double(a.recall), format_double(a.f1), a.support);
  out += fmt::format("\naccuracy {}   log loss {}   ROC AUC {}   PR AUC {}   ({} samples)\n", format_double(accuracy),
                     format_double(log_loss), format_double(roc_auc), format_double(pr_auc), n_samples);
  out += "\nconfusion matrix (rows: true class, columns: predicted class)\n";
  size_t cell = 5;
  for (const auto& row : confusion_matrix)
    for (int64_t v : row) cell = std::max(cell, fmt::formatted_size("{}", v));
  out += fmt::format("{:<{}}", "", width);
  for (size_t k = 0; k < class_names.size(); ++k) out += fmt::format("  {:>{}}", k, cell);
  out += "\n";
  for (size_t k = 0; k < confusion_matrix.size(); ++k) {
    out += fmt::format("{:<{}}", fmt::format("{} {}", k, class_names[k]), width);
    for (int64_t v : confusion_matrix[k]) out += fmt::format("  {:>{}}", v, cell);
    out += "\n";
  }
  return out;
}

}  // namespace xfer::ml
