#pragma once
// Classification metrics computed exactly as scikit-learn 1.2's sklearn.metrics computes them, from the true class
// indices and the predicted probabilities.
//
// Data convention: y_true[i] in [0, K); probs is n x K row-major (probs[i * K + k] = P(class k | row i)), K =
// class_names.size() >= 2. The predicted class is the argmax of the row (the first on ties, as numpy.argmax).
//
//   accuracy           accuracy_score
//   per-class P/R/F1   precision_recall_fscore_support(labels=range(K), zero_division=0); support = true count
//   macro / weighted   the unweighted mean / the support-weighted mean over the K classes
//   roc_auc            binary: roc_auc_score(y, probs[:, 1]); multiclass: roc_auc_score(y, probs,
//                      multi_class='ovr', average='macro')
//   pr_auc             binary: average_precision_score(y, probs[:, 1]); multiclass: the macro mean of the
//                      one-vs-rest average precisions (average_precision_score(label_binarize(y), probs))
//   log_loss           log_loss(y, probs, labels=range(K)) with sklearn 1.2's eps='auto' (float64 machine
//                      epsilon): clip to [eps, 1 - eps], renormalise each row, mean of -log p_true
//   confusion_matrix   confusion_matrix(labels=range(K)): rows true class, columns predicted class
//
// Where sklearn raises instead (a class with no positive or no negative row in y_true), that class's ROC AUC is
// NaN (null in JSON) and the macro mean is taken over the classes where it is defined (NaN when none is). A class
// with no positive row has average precision 0, as sklearn 1.2 computes it (with a warning).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xfer::ml {

// sklearn.metrics.roc_curve(y_true == positive, score, drop_intermediate=True) of sklearn 1.2: thresholds are
// decreasing and thresholds[0] = thresholds[1] + 1 (sklearn 1.2's convention; later versions use +inf).
struct RocCurve {
  std::vector<double> fpr;
  std::vector<double> tpr;
  std::vector<double> thresholds;
};

// The binary building blocks (positives: y_positive[i] true), for tests and plots.
RocCurve roc_curve(const std::vector<bool>& y_positive, const std::vector<double>& score);
double roc_auc(const std::vector<bool>& y_positive, const std::vector<double>& score);          // NaN if undefined
double average_precision(const std::vector<bool>& y_positive, const std::vector<double>& score);

struct ClassMetrics {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  int64_t support = 0;
  double roc_auc = 0.0;            // one-vs-rest; NaN when undefined
  double average_precision = 0.0;  // one-vs-rest
};

struct AveragedMetrics {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  int64_t support = 0;
};

struct ClassificationMetrics {
  std::vector<std::string> class_names;
  int64_t n_samples = 0;
  double accuracy = 0.0;
  double log_loss = 0.0;
  double roc_auc = 0.0;
  double pr_auc = 0.0;
  std::vector<std::vector<int64_t>> confusion_matrix;  // [true][predicted]
  std::vector<ClassMetrics> per_class;
  AveragedMetrics macro_avg;
  AveragedMetrics weighted_avg;
  // Binary: one curve, for class 1 (the positive class). Multiclass: one one-vs-rest curve per class.
  std::vector<RocCurve> roc_curves;

  // Keys: accuracy, log_loss, roc_auc, pr_auc, confusion_matrix, per_class (an object keyed by class name with
  // precision, recall, f1, support, roc_auc, average_precision), macro_avg, weighted_avg, class_names, n_samples.
  // NaN is written as null. The ROC curves are not included (they are for plots).
  nlohmann::json to_json() const;
  // A table for people: per-class rows, the averages, accuracy/log loss/AUCs and the confusion matrix.
  std::string to_table() const;
};

// Throws UsageError when K < 2, probs.size() != n * K, y_true is empty, a label is outside [0, K) or a
// probability is not finite.
ClassificationMetrics compute_metrics(const std::vector<int>& y_true, const std::vector<double>& probs,
                                      const std::vector<std::string>& class_names);

}  // namespace xfer::ml
