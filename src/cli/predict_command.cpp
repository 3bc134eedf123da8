// xfer predict: classes and probabilities for new images, as a table, JSON or CSV.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/job_options.h"
#include "cli/job_run.h"
#include "cli/status_options.h"
#include "pipeline/workflow.h"
#include "util/error.h"

namespace xfer::cli {
namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// The k most probable classes of a prediction, most probable first (the first class on ties, as the argmax).
std::vector<size_t> top_classes(const std::vector<double>& probabilities, int k) {
  std::vector<size_t> order(probabilities.size());
  for (size_t c = 0; c < order.size(); ++c) order[c] = c;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probabilities[a] > probabilities[b]; });
  order.resize(std::min(order.size(), static_cast<size_t>(k)));
  return order;
}

void print_predictions(const pipeline::PredictResult& result, const std::string& format, int top_k) {
  if (format == "json") {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& p : result.predictions) {
      nlohmann::json row = {{"path", p.path}};
      if (!p.error.empty()) {
        row["error"] = p.error;
      } else {
        row["class"] = p.predicted;
        row["probability"] = p.probability;
        nlohmann::json probs;
        for (size_t c = 0; c < result.class_names.size(); ++c) probs[result.class_names[c]] = p.probabilities[c];
        row["probabilities"] = probs;
        if (top_k > 1) {
          nlohmann::json top = nlohmann::json::array();
          for (size_t c : top_classes(p.probabilities, top_k))
            top.push_back({{"class", result.class_names[c]}, {"probability", p.probabilities[c]}});
          row["top"] = top;
        }
      }
      rows.push_back(row);
    }
    fmt::print("{}\n", nlohmann::json{{"class_names", result.class_names}, {"predictions", rows}}.dump(2));
  } else if (format == "csv") {
    std::vector<std::string> header = {"path", "class", "probability"};
    for (const auto& c : result.class_names) header.push_back(csv_field("p_" + c));
    for (int t = 2; t <= top_k; ++t) {
      header.push_back(fmt::format("top{}_class", t));
      header.push_back(fmt::format("top{}_probability", t));
    }
    header.push_back("error");
    fmt::print("{}\n", fmt::join(header, ","));
    for (const auto& p : result.predictions) {
      std::vector<std::string> cells = {csv_field(p.path), csv_field(p.predicted),
                                        p.error.empty() ? fmt::format("{:.6f}", p.probability) : ""};
      for (size_t c = 0; c < result.class_names.size(); ++c)
        cells.push_back(p.error.empty() ? fmt::format("{:.6f}", p.probabilities[c]) : "");
      const auto top = p.error.empty() ? top_classes(p.probabilities, top_k) : std::vector<size_t>{};
      for (size_t t = 1; t < static_cast<size_t>(top_k); ++t) {
        cells.push_back(t < top.size() ? csv_field(result.class_names[top[t]]) : "");
        cells.push_back(t < top.size() ? fmt::format("{:.6f}", p.probabilities[top[t]]) : "");
      }
      cells.push_back(csv_field(p.error));
      fmt::print("{}\n", fmt::join(cells, ","));
    }
  } else {
    size_t width = 4;
    for (const auto& p : result.predictions) width = std::max(width, p.path.size());
    fmt::print("{:<{}}  {:<16} {}{}\n", "path", width, "class", "probability",
               top_k > 1 ? fmt::format("  then (top {})", top_k) : "");
    for (const auto& p : result.predictions) {
      if (!p.error.empty()) {
        fmt::print("{:<{}}  {:<16} skipped: {}\n", p.path, width, "-", p.error);
        continue;
      }
      std::string more;
      const auto top = top_classes(p.probabilities, top_k);
      for (size_t t = 1; t < top.size(); ++t)
        more += fmt::format("  {} {:.4f}", result.class_names[top[t]], p.probabilities[top[t]]);
      fmt::print("{:<{}}  {:<16} {:.4f}{}\n", p.path, width, p.predicted, p.probability, more);
    }
  }
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto pipeline_path = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("table");
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto job = std::make_shared<JobOptions>();
  auto top_k = std::make_shared<int>(1);
  auto* command = app.add_subcommand("predict", "Classify new images with a trained pipeline");
  command->add_option("--pipeline", *pipeline_path, "The pipeline file from `xfer train`")->required();
  command->add_option("--format", *format, "Output format")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  add_job_options(*command, *job);
  command->add_option("--top-k", *top_k, "Also list the next most probable classes, K in all")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("inputs", *inputs, "Image files or folders (searched recursively)")->required();
  auto status = std::make_shared<StatusOptions>();
  add_status_options(*command, *status);
  command->callback([=] {
    run_job(*command, *status, [&] {
      std::vector<std::filesystem::path> paths(inputs->begin(), inputs->end());
      auto& comm = world();
      const auto parts = part_job_options(*job, start_job(*job, comm), "predict");
      auto result = pipeline::predict_images(comm, *pipeline_path, paths, parts);
      if (comm.rank() != 0) return nlohmann::json();
      // More than the pipeline's classes lists them all (the option is given before the pipeline is read).
      print_predictions(result, *format, std::min(*top_k, static_cast<int>(result.class_names.size())));
      size_t failed = 0;
      for (const auto& p : result.predictions) failed += !p.error.empty();
      if (failed == result.predictions.size()) fail("none of the {} images could be read", failed);
      std::fflush(stdout);
      nlohmann::json per_class = nlohmann::json::object();
      for (const auto& name : result.class_names) per_class[name] = 0;
      for (const auto& p : result.predictions)
        if (p.error.empty()) per_class[p.predicted] = per_class[p.predicted].get<int64_t>() + 1;
      return nlohmann::json{{"pipeline", *pipeline_path},
                            {"images", result.predictions.size()},
                            {"predicted", result.predictions.size() - failed},
                            {"skipped", failed},
                            {"predicted_per_class", per_class}};
    });
  });
}

}  // namespace xfer::cli
