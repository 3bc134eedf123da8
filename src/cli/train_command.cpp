// xfer train: featurise an ImageFolder and fit logistic regression (MLlib's options), saved as one pipeline file.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/featurizer_options.h"
#include "cli/job_run.h"
#include "cli/status_options.h"
#include "pipeline/workflow.h"

namespace xfer::cli {

void add_train_command(CLI::App& app) {
  auto request = std::make_shared<pipeline::TrainRequest>();
  auto* command = app.add_subcommand("train", "Featurise a labelled image folder and train a classifier on it");
  command->add_option("--data", request->data, "ImageFolder: one sub-folder per class (or a root with train/ test/ val/)")
      ->required();
  command->add_option("--split", request->split, "train, test or val under a chest_xray-style root");
  add_featurizer_options(*command, request->featurizer);
  command->add_option("--out", request->out, "The pipeline file to write")->required();
  command->add_option("--features", request->features_dir,
                      "Feature cache folder: reused when made by the same featuriser from the same images, "
                      "written otherwise");
  auto& lr = request->classifier;
  command->add_option("--reg", lr.reg, "Regularisation strength (MLlib regParam)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--elastic-net", lr.elastic_net, "L1 share of the penalty, 0 = L2 (MLlib elasticNetParam)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--max-iter", lr.max_iter, "Most optimiser iterations")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--tol", lr.tol, "Convergence tolerance")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_flag("--no-standardize{false}", lr.standardize, "Do not scale features by their standard deviation");
  command->add_flag("--no-intercept{false}", lr.fit_intercept, "Fit without an intercept");
  auto class_weight = std::make_shared<std::string>("none");
  command->add_option("--class-weight", *class_weight, "balanced: weight classes inversely to their frequency")
      ->check(CLI::IsMember({"none", "balanced"}))
      ->capture_default_str();
  command->add_option("--batch", request->batch, "Images per featuriser batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--threads", request->threads, "Threads (0: all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto status = std::make_shared<StatusOptions>();
  add_status_options(*command, *status);
  command->callback([request, class_weight, status, command] {
    run_job(*command, *status, [&] {
      request->classifier.balanced_class_weight = *class_weight == "balanced";
      auto result = pipeline::train_pipeline(*request);
      const auto& p = result.pipeline;
      fmt::print("pipeline: {}\n", request->out.string());
      fmt::print("images: {} used, {} skipped; classes: {}\n", result.n_images, result.n_skipped, p.class_names.size());
      fmt::print("features: {} per image ({}, {:.1f} s)\n", p.classifier.n_features,
                 result.features_reused ? "reused from cache" : "computed", result.featurize_seconds);
      fmt::print("training: {} iterations ({}), {:.2f} s; training accuracy {:.4f}\n",
                 p.classifier.summary.iterations, p.classifier.summary.converged ? "converged" : p.classifier.summary.stop_reason,
                 result.train_seconds, result.train_accuracy);
      std::fflush(stdout);
      return nlohmann::json{{"pipeline", request->out.string()},
                            {"images", result.n_images},
                            {"skipped", result.n_skipped},
                            {"classes", p.class_names.size()},
                            {"features", p.classifier.n_features},
                            {"features_reused", result.features_reused},
                            {"featurize_seconds", result.featurize_seconds},
                            {"iterations", p.classifier.summary.iterations},
                            {"converged", p.classifier.summary.converged},
                            {"stop_reason", p.classifier.summary.stop_reason},
                            {"train_seconds", result.train_seconds},
                            {"train_accuracy", result.train_accuracy}};
    });
  });
}

}  // namespace xfer::cli
