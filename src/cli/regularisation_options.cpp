#include "cli/regularisation_options.h"

#include <charconv>
#include <cmath>

#include "util/error.h"

namespace xfer::cli {
namespace {

// "0.01" or "0.1,0.01,0.001": each a finite number in [low, high].
std::vector<double> parse_values(const std::string& option, const std::string& text, double low, double high) {
  std::vector<double> values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    double v = 0.0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || !std::isfinite(v))
      usage_fail("{}: '{}' is not a number", option, item);
    if (v < low || v > high) usage_fail("{}: {} is outside [{}, {}]", option, item, low, high);
    values.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

}  // namespace

void add_regularisation_options(CLI::App& command, RegularisationOptions& o) {
  command.add_option("--reg", o.reg,
                     "Regularisation strength (MLlib regParam): auto = chosen by stratified k-fold cross-validation "
                     "over a log-spaced grid; a number (0 = MLlib's default, no penalty); or a comma list to "
                     "cross-validate")
      ->capture_default_str();
  command.add_option("--elastic-net", o.elastic_net,
                     "L1 share of the penalty, 0 = L2 (MLlib elasticNetParam); a comma list is cross-validated")
      ->capture_default_str();
  command.add_option("--cv-folds", o.folds, "Cross-validation folds (stratified)")
      ->check(CLI::Range(2, 100))
      ->capture_default_str();
  command.add_option("--cv-metric", o.metric, "What cross-validation optimises (mean over the folds)")
      ->check(CLI::IsMember({"log_loss", "accuracy", "roc_auc"}))
      ->capture_default_str();
  command.add_option("--cv-seed", o.seed, "Seed of the fold assignment")->capture_default_str();
}

void apply_regularisation_options(const RegularisationOptions& o, ml::LogisticRegressionOptions& classifier,
                                  std::optional<ml::CrossValidationOptions>& cross_validation) {
  const bool automatic = o.reg == "auto";
  const auto regs = automatic ? std::vector<double>{} : parse_values("--reg", o.reg, 0.0, INFINITY);
  const auto alphas = parse_values("--elastic-net", o.elastic_net, 0.0, 1.0);
  classifier.elastic_net = alphas.front();
  if (!automatic && regs.size() == 1 && alphas.size() == 1) {
    classifier.reg = regs.front();
    cross_validation.reset();
    return;
  }
  ml::CrossValidationOptions cv;
  cv.folds = o.folds;
  cv.metric = o.metric;
  cv.seed = o.seed;
  cv.reg_values = regs;
  cv.elastic_net_values = alphas;
  cross_validation = cv;
}

}  // namespace xfer::cli
