// xfer evaluate: metrics of a pipeline on a labelled image folder, as a table, JSON and an HTML report.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/job_options.h"
#include "cli/job_run.h"
#include "cli/status_options.h"
#include "pipeline/workflow.h"
#include "report/html_report.h"
#include "util/atomic_file.h"

namespace xfer::cli {

void add_evaluate_command(CLI::App& app) {
  auto request = std::make_shared<pipeline::EvaluateRequest>();
  auto json_out = std::make_shared<std::string>();
  auto report_dir = std::make_shared<std::string>();
  auto* command = app.add_subcommand("evaluate", "Score a pipeline on a labelled image folder");
  command->add_option("--pipeline", request->pipeline, "The pipeline file from `xfer train`")->required();
  command->add_option("--data", request->data, "ImageFolder with the same class names")->required();
  command->add_option("--split", request->split, "train, test or val under a chest_xray-style root");
  command->add_option("--json", *json_out, "Write the metrics as JSON to this file ('-' for stdout)");
  command->add_option("--report", *report_dir, "Write an HTML report (index.html) into this folder");
  auto job = std::make_shared<JobOptions>();
  add_job_options(*command, *job);
  auto status = std::make_shared<StatusOptions>();
  add_status_options(*command, *status);
  command->callback([request, json_out, report_dir, job, status, command] {
    run_job(*command, *status, [&] {
      auto& comm = world();
      request->parts = part_job_options(*job, start_job(*job, comm), "evaluate");
      auto result = pipeline::evaluate_pipeline(comm, *request);
      if (comm.rank() != 0) return nlohmann::json();
      if (*json_out == "-") {
        fmt::print("{}\n", result.metrics.dump(2));
      } else {
        fmt::print("{}", result.table);
        fmt::print("images: {} evaluated, {} skipped\n", result.metrics["n_images"].get<int64_t>(),
                   result.metrics["n_skipped"].get<int64_t>());
        if (!json_out->empty()) write_file_atomically(*json_out, result.metrics.dump(2) + "\n");
      }
      if (!report_dir->empty()) {
        auto path = report::write_html_report(*report_dir, result.report);
        if (*json_out != "-") fmt::print("report: {}\n", path.string());
      }
      std::fflush(stdout);
      // The status page's copy also carries the ROC curves, so the page can draw them as the report does.
      auto summary = result.metrics;
      summary["roc_curves"] = nlohmann::json::array();
      for (const auto& c : result.report.roc_curves)
        summary["roc_curves"].push_back({{"label", c.label}, {"fpr", c.fpr}, {"tpr", c.tpr}, {"auc", c.auc}});
      return summary;
    });
  });
}

}  // namespace xfer::cli
