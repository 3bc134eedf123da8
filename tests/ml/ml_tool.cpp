// Test driver for the ml library, so Python tests can compare it with scikit-learn on the same arrays.
//   ml_tool train --x X.npy --y y.npy --classes K --out DIR [options]   -> DIR/model.json, DIR/probs.npy (float64)
//   ml_tool cv --x X.npy --y y.npy --classes K --out DIR [options]      -> DIR/cv.json, DIR/folds.npy, DIR/model.json
//   ml_tool metrics --y y.npy --probs P.npy --out FILE.json             -> metrics JSON + ROC curves
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "ml/classification_metrics.h"
#include "ml/cross_validation.h"
#include "ml/logistic_regression.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/npy.h"

namespace {

std::vector<int> read_labels(const std::string& path) {
  const xfer::NpyArray a = xfer::read_npy(path);
  std::vector<int> labels(static_cast<size_t>(a.element_count()));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (a.dtype == xfer::NpyDtype::int64) {
      int64_t v;
      std::memcpy(&v, a.bytes.data() + i * 8, 8);
      labels[i] = static_cast<int>(v);
    } else if (a.dtype == xfer::NpyDtype::int32) {
      int32_t v;
      std::memcpy(&v, a.bytes.data() + i * 4, 4);
      labels[i] = v;
    } else {
      xfer::fail("{}: labels must be int64 or int32", path);
    }
  }
  return labels;
}

std::vector<double> read_doubles(const std::string& path, std::vector<int64_t>* shape) {
  const xfer::NpyArray a = xfer::read_npy(path);
  if (a.dtype != xfer::NpyDtype::float64) xfer::fail("{}: expected float64", path);
  std::vector<double> v(static_cast<size_t>(a.element_count()));
  std::memcpy(v.data(), a.bytes.data(), v.size() * sizeof(double));
  if (shape) *shape = a.shape;
  return v;
}

void write_doubles(const std::string& path, const std::vector<double>& v, std::vector<int64_t> shape) {
  xfer::NpyArray a;
  a.dtype = xfer::NpyDtype::float64;
  a.shape = std::move(shape);
  a.bytes.resize(v.size() * sizeof(double));
  std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  xfer::write_npy(path, a);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ml library test driver"};
  app.require_subcommand(1);
  std::string x_path, y_path, out, probs_path;
  int classes = 0;
  xfer::ml::LogisticRegressionOptions o;
  std::string test_x_path, test_probs_path;
  bool no_standardize = false, no_intercept = false;
  auto* train = app.add_subcommand("train", "train and write model.json, probs.npy (on the training rows)");
  train->add_option("--x", x_path)->required();
  train->add_option("--y", y_path)->required();
  train->add_option("--classes", classes)->required();
  train->add_option("--out", out)->required();
  train->add_option("--reg", o.reg);
  train->add_option("--elastic-net", o.elastic_net);
  train->add_option("--max-iter", o.max_iter);
  train->add_option("--tol", o.tol);
  train->add_option("--family", o.family);
  train->add_flag("--no-standardize", no_standardize);
  train->add_flag("--no-intercept", no_intercept);
  train->add_flag("--balanced", o.balanced_class_weight);
  train->add_option("--test-x", test_x_path, "also write probabilities on these rows");
  train->add_option("--test-probs", test_probs_path);
  xfer::ml::CrossValidationOptions cv;
  auto* cross = app.add_subcommand("cv", "cross-validate over a reg grid, write cv.json, folds.npy, model.json");
  cross->add_option("--x", x_path)->required();
  cross->add_option("--y", y_path)->required();
  cross->add_option("--classes", classes)->required();
  cross->add_option("--out", out)->required();
  cross->add_option("--max-iter", o.max_iter);
  cross->add_option("--tol", o.tol);
  cross->add_flag("--no-standardize", no_standardize);
  cross->add_flag("--no-intercept", no_intercept);
  cross->add_flag("--balanced", o.balanced_class_weight);
  cross->add_option("--folds", cv.folds);
  cross->add_option("--seed", cv.seed);
  cross->add_option("--reg-values", cv.reg_values)->delimiter(',');
  cross->add_option("--elastic-net-values", cv.elastic_net_values)->delimiter(',');
  cross->add_option("--grid-size", cv.grid_size);
  cross->add_option("--min-ratio", cv.min_ratio);
  cross->add_option("--metric", cv.metric);
  cross->add_option("--patience", cv.patience);
  cross->add_option("--cv-tol", cv.tol);
  cross->add_option("--threads", cv.threads);
  cross->add_option("--test-x", test_x_path, "also write the final model's probabilities on these rows");
  cross->add_option("--test-probs", test_probs_path);
  auto* metrics = app.add_subcommand("metrics", "compute the metrics of given probabilities");
  metrics->add_option("--y", y_path)->required();
  metrics->add_option("--probs", probs_path)->required();
  metrics->add_option("--out", out)->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (*train) {
      o.standardize = !no_standardize;
      o.fit_intercept = !no_intercept;
      const xfer::NpyArray xa = xfer::read_npy(x_path);
      if (xa.shape.size() != 2) xfer::fail("{}: expected a 2-d array", x_path);
      const std::vector<float> x = xa.to_float32();
      const std::vector<int> y = read_labels(y_path);
      const auto start = std::chrono::steady_clock::now();
      const auto model = xfer::ml::train_logistic_regression(x.data(), xa.shape[0], xa.shape[1], y, classes, o);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::filesystem::create_directories(out);
      const nlohmann::json j = model.to_json();
      xfer::write_file_atomically(std::filesystem::path(out) / "model.json", j.dump());
      // Apart from the model, so that two fits can be compared byte for byte.
      xfer::write_file_atomically(std::filesystem::path(out) / "train_seconds.txt", std::to_string(seconds) + "\n");
      std::vector<double> probs(static_cast<size_t>(xa.shape[0]) * classes);
      model.predict_proba(x.data(), xa.shape[0], probs.data());
      write_doubles((std::filesystem::path(out) / "probs.npy").string(), probs, {xa.shape[0], classes});
      if (!test_x_path.empty()) {
        const xfer::NpyArray ta = xfer::read_npy(test_x_path);
        const std::vector<float> tx = ta.to_float32();
        std::vector<double> tp(static_cast<size_t>(ta.shape[0]) * classes);
        model.predict_proba(tx.data(), ta.shape[0], tp.data());
        write_doubles(test_probs_path, tp, {ta.shape[0], classes});
      }
      // The JSON round trip must reproduce the model exactly.
      const auto again = xfer::ml::LogisticRegressionModel::from_json(nlohmann::json::parse(j.dump()));
      if (again.coefficients != model.coefficients || again.intercepts != model.intercepts)
        xfer::fail("JSON round trip changed the model");
    } else if (*cross) {
      o.standardize = !no_standardize;
      o.fit_intercept = !no_intercept;
      const xfer::NpyArray xa = xfer::read_npy(x_path);
      if (xa.shape.size() != 2) xfer::fail("{}: expected a 2-d array", x_path);
      const std::vector<float> x = xa.to_float32();
      const std::vector<int> y = read_labels(y_path);
      const auto result = xfer::ml::cross_validate_logistic_regression(x.data(), xa.shape[0], xa.shape[1], y, classes, o, cv);
      std::filesystem::create_directories(out);
      xfer::write_file_atomically(std::filesystem::path(out) / "cv.json", result.to_json().dump());
      xfer::write_file_atomically(std::filesystem::path(out) / "model.json", result.model.to_json().dump());
      const auto folds = xfer::ml::stratified_folds(y, classes, cv.folds, cv.seed);
      std::vector<double> fold_values(folds.begin(), folds.end());
      write_doubles((std::filesystem::path(out) / "folds.npy").string(), fold_values, {static_cast<int64_t>(folds.size())});
      std::cerr << result.to_table();
      if (!test_x_path.empty()) {
        const xfer::NpyArray ta = xfer::read_npy(test_x_path);
        const std::vector<float> tx = ta.to_float32();
        std::vector<double> tp(static_cast<size_t>(ta.shape[0]) * classes);
        result.model.predict_proba(tx.data(), ta.shape[0], tp.data());
        write_doubles(test_probs_path, tp, {ta.shape[0], classes});
      }
    } else {
      std::vector<int64_t> shape;
      const std::vector<int> y = read_labels(y_path);
      const std::vector<double> probs = read_doubles(probs_path, &shape);
      std::vector<std::string> names;
      for (int64_t k = 0; k < shape.at(1); ++k) names.push_back("class" + std::to_string(k));
      const auto m = xfer::ml::compute_metrics(y, probs, names);
      nlohmann::json j = m.to_json();
      nlohmann::json curves = nlohmann::json::array();
      for (const auto& c : m.roc_curves)
        curves.push_back({{"fpr", c.fpr}, {"tpr", c.tpr}, {"thresholds", c.thresholds}});
      j["roc_curves"] = curves;
      j["table"] = m.to_table();
      xfer::write_file_atomically(out, j.dump());
    }
  } catch (const xfer::UsageError& e) {
    std::cerr << "ml_tool: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ml_tool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
