// xfer train: featurise an ImageFolder and fit logistic regression (MLlib's options), saved as one pipeline file.
// One process, or every rank of an MPI job: the parts are shared out, the fit sums its gradient across ranks.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/featurizer_options.h"
#include "cli/job_options.h"
#include "cli/job_run.h"
#include "cli/regularisation_options.h"
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
                      "Features folder: each part is committed there as it finishes, and reused by a rerun with the "
                      "same images and featuriser (default: the --out file's name with .features)");
  auto& lr = request->classifier;
  auto regularisation = std::make_shared<RegularisationOptions>();
  add_regularisation_options(*command, *regularisation);
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
  auto job = std::make_shared<JobOptions>();
  add_job_options(*command, *job);
  auto status = std::make_shared<StatusOptions>();
  add_status_options(*command, *status);
  command->callback([request, class_weight, job, status, command, regularisation] {
    run_job(*command, *status, [&] {
      request->classifier.balanced_class_weight = *class_weight == "balanced";
      apply_regularisation_options(*regularisation, request->classifier, request->cross_validation);
      auto& comm = world();
      request->parts = part_job_options(*job, start_job(*job, comm), "featurize");
      auto result = pipeline::train_pipeline(comm, *request);
      if (comm.rank() != 0) return nlohmann::json();
      const auto& p = result.pipeline;
      const auto& run = result.featurize_run;
      fmt::print("pipeline: {}\n", request->out.string());
      fmt::print("images: {} used, {} skipped; classes: {}\n", result.n_images, result.n_skipped, p.class_names.size());
      fmt::print("features: {} per image in {} ({}, {:.1f} s)\n", p.classifier.n_features,
                 p.training.value("features", ""),
                 result.features_reused  ? "reused from an earlier run"
                 : run.parts_reused > 0 ? fmt::format("{} of {} parts reused", run.parts_reused, run.parts)
                                        : "computed",
                 result.featurize_seconds);
      if (comm.size() > 1) fmt::print("ranks: {} (rows shared out, gradients summed by allreduce)\n", comm.size());
      if (result.cross_validation) fmt::print("{}", result.cross_validation->to_table());
      fmt::print("training: {}{} iterations ({}), {:.2f} s{}; training accuracy {:.4f}\n",
                 result.cross_validation ? "the fit on all rows at the chosen reg, " : "", p.classifier.summary.iterations,
                 p.classifier.summary.converged ? "converged" : p.classifier.summary.stop_reason, result.train_seconds,
                 result.cross_validation ? " with cross-validation" : "", result.train_accuracy);
      std::fflush(stdout);
      return nlohmann::json{{"pipeline", request->out.string()},
                            {"images", result.n_images},
                            {"skipped", result.n_skipped},
                            {"classes", p.class_names.size()},
                            {"features", p.classifier.n_features},
                            {"features_dir", p.training.value("features", "")},
                            {"features_reused", result.features_reused},
                            {"parts", run.parts},
                            {"parts_reused", run.parts_reused},
                            {"ranks", comm.size()},
                            {"featurize_seconds", result.featurize_seconds},
                            {"iterations", p.classifier.summary.iterations},
                            {"converged", p.classifier.summary.converged},
                            {"stop_reason", p.classifier.summary.stop_reason},
                            {"train_seconds", result.train_seconds},
                            {"train_accuracy", result.train_accuracy},
                            {"reg", p.training.at("options").at("reg")},
                            {"cross_validation", p.training.value("cross_validation", nlohmann::json())}};
    });
  });
}

}  // namespace xfer::cli
