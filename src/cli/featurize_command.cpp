// xfer featurize: an ImageFolder -> a feature shard folder (.npy + index + manifest) that numpy reads directly.
// One process, or every rank of an MPI job (mpirun / srun): the parts are shared out and rank 0 commits them.
#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/featurizer_options.h"
#include "cli/job_options.h"
#include "cli/job_run.h"
#include "cli/status_options.h"
#include "data/image_folder.h"
#include "featurize/feature_folder_job.h"
#include "featurize/int8_calibration.h"
#include "featurize/job_inputs.h"
#include "util/job_events.h"

namespace xfer::cli {
namespace {

struct FeaturizeCommandOptions {
  std::string data;
  std::string split;
  featurize::FeaturizerSpec spec;
  std::string out;
  JobOptions job;
  bool json = false;
  StatusOptions status;
};

nlohmann::json rank_table(const featurize::PartRunSummary& run) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const auto& r : run.ranks)
    ranks.push_back({{"rank", r.rank}, {"host", r.host}, {"parts", r.parts_done}, {"images", r.items_done},
                     {"images_per_second", r.items_per_second}});
  return ranks;
}

// Prints the summary and returns it (the job's result on the status page); null on ranks other than 0.
nlohmann::json run_featurize(const FeaturizeCommandOptions& o) {
  auto& comm = world();
  const auto start = std::chrono::steady_clock::now();
  const int threads = start_job(o.job, comm);
  job_events::phase("listing");
  auto list = [&] {
    auto folder = data::open_image_folder(o.data, o.split);
    return featurize::JobInputs{folder.root.string(), folder.class_names, folder.samples};
  };
  const auto inputs = featurize::share_inputs(comm, list);
  auto spec = o.spec;
  spec.threads = threads;
  featurize::calibrate_everywhere(comm, spec, inputs);  // int8: the scales, from this data set's images
  const auto featurizer = featurize::open_featurizer_everywhere(
      comm, [&] { return featurize::make_featurizer(spec); }, inputs, !o.job.stage_data, list);
  job_events::phase("featurizing");
  const auto result = featurize::featurize_to_folder(comm, inputs, *featurizer,
                                                     part_job_options(o.job, threads, "featurize"), o.out);
  if (comm.rank() != 0) return nullptr;

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& m = result.manifest;
  const auto images = static_cast<int64_t>(inputs.samples.size());
  const auto rows = m.at("rows").get<int64_t>();
  const auto skipped = m.at("counts").at("skipped").get<int64_t>();
  nlohmann::json j = {{"out", o.out},
                        {"data", inputs.root},
                        {"images", images},
                        {"rows", rows},
                        {"dim", featurizer->feature_dim()},
                        {"skipped", skipped},
                        {"class_names", inputs.class_names},
                        {"parts", result.run.parts},
                        {"parts_reused", result.run.parts_reused},
                        {"ranks", rank_table(result.run)},
                        {"seconds", seconds},
                        {"featurizer", m.at("featurizer")}};
  if (o.json) {
    std::cout << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    return j;
  }
  std::cout << fmt::format("features   {}\n", o.out) << fmt::format("data       {}\n", inputs.root)
            << fmt::format("classes    {}\n", inputs.class_names.size())
            << fmt::format("images     {} ({} featurised, {} skipped)\n", images, rows, skipped)
            << fmt::format("dim        {}\n", featurizer->feature_dim())
            << fmt::format("parts      {} ({} reused from an earlier run)\n", result.run.parts, result.run.parts_reused)
            << fmt::format("time       {:.2f} s ({:.0f} images/s)\n", seconds,
                           static_cast<double>(result.run.images_computed) / std::max(seconds, 1e-9));
  if (comm.size() > 1)
    for (const auto& r : result.run.ranks)
      std::cout << fmt::format("rank {:<4} {}: {} parts, {} images, {:.1f} images/s\n", r.rank, r.host, r.parts_done,
                               r.items_done, r.items_per_second);
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
  cmd->add_option("--out", o->out, "Features folder to write (a rerun of the same command resumes in it)")->required();
  add_job_options(*cmd, o->job);
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  add_status_options(*cmd, o->status);
  cmd->callback([o, cmd] { run_job(*cmd, o->status, [&] { return run_featurize(*o); }); });
}

}  // namespace xfer::cli
