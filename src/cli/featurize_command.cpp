// xfer featurize: an ImageFolder -> a feature shard folder (.npy + index + manifest) that numpy reads directly.
#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/featurizer_options.h"
#include "cli/job_run.h"
#include "cli/status_options.h"
#include "data/feature_set.h"
#include "data/image_folder.h"
#include "featurize/featurize_samples.h"
#include "featurize/featurizer.h"
#include "util/job_events.h"

namespace xfer::cli {
namespace {

struct FeaturizeCommandOptions {
  std::string data;
  std::string split;
  featurize::FeaturizerSpec spec;
  std::string out;
  int batch = 32;
  int threads = 0;
  double max_megapixels = 100;
  bool json = false;
  StatusOptions status;
};

// Prints the summary and returns it (the job's result on the status page).
nlohmann::json run_featurize(const FeaturizeCommandOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  job_events::phase("listing");
  auto folder = data::open_image_folder(o.data, o.split);
  auto spec = o.spec;
  spec.threads = o.threads;
  auto featurizer = featurize::make_featurizer(spec);
  featurize::FeaturizeOptions options;
  options.batch = o.batch;
  options.threads = o.threads;
  options.max_pixels = static_cast<int64_t>(o.max_megapixels * 1e6);
  job_events::phase("featurizing");
  auto set = featurize::featurize_samples(folder.samples, folder.class_names, *featurizer, options);
  if (set.rows == 0)
    fail("{}: no image could be read ({} skipped); nothing written to {}", folder.root.string(), set.skipped.size(),
         o.out);
  data::write_feature_set(o.out, set);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto images = static_cast<int64_t>(folder.samples.size());
  nlohmann::json j = {{"out", o.out},
                      {"data", folder.root.string()},
                      {"images", images},
                      {"rows", set.rows},
                      {"dim", set.dim},
                      {"skipped", set.skipped.size()},
                      {"class_names", set.class_names},
                      {"seconds", seconds},
                      {"featurizer", set.featurizer}};
  if (o.json) {
    std::cout << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << fmt::format("features   {}\n", o.out) << fmt::format("data       {}\n", folder.root.string())
              << fmt::format("classes    {}\n", set.class_names.size())
              << fmt::format("images     {} ({} featurised, {} skipped)\n", images, set.rows, set.skipped.size())
              << fmt::format("dim        {}\n", set.dim)
              << fmt::format("time       {:.2f} s ({:.0f} images/s)\n", seconds, images / std::max(seconds, 1e-9));
  }
  std::cout.flush();  // the summary is out before a status page lingers
  return j;
}

}  // namespace

void add_featurize_command(CLI::App& app) {
  auto o = std::make_shared<FeaturizeCommandOptions>();
  auto* cmd = app.add_subcommand("featurize", "Turn an ImageFolder into a feature shard folder (.npy + index + manifest)");
  cmd->add_option("--data", o->data, "ImageFolder root (DIR/<class>/<image>), or a root holding train/ test/ val/")
      ->required();
  cmd->add_option("--split", o->split, "Split sub-folder of --data (train, test, val)");
  add_featurizer_options(*cmd, o->spec);
  cmd->add_option("--out", o->out, "Features folder to write")->required();
  cmd->add_option("--batch", o->batch, "Images per featuriser call")->check(CLI::Range(1, 1 << 16))->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->check(CLI::Range(0, 4096))->capture_default_str();
  cmd->add_option("--max-megapixels", o->max_megapixels, "Skip images larger than this (checked before decoding)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  add_status_options(*cmd, o->status);
  cmd->callback([o, cmd] { run_job(*cmd, o->status, [&] { return run_featurize(*o); }); });
}

}  // namespace xfer::cli
