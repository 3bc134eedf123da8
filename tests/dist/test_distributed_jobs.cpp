// A whole featurise -> train job on 1, 2, 3 and 4 ranks as threads of one process (the part queue, the shard
// commits, the row scatter and the allreduce run exactly as under MPI): the feature rows are byte-identical to a
// single process's (compared row by image path), the skipped images the same, and the trained coefficients
// within 1e-6 (relative to the largest) of the single-process fit. Also: --stage-data, resuming after an
// interruption, and a part file cut short on disk.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <unistd.h>

#include "data/feature_set.h"
#include "dist/communicator.h"
#include "featurize/feature_folder_job.h"
#include "featurize/job_inputs.h"
#include "image/encode.h"
#include "ml/logistic_regression.h"
#include "pipeline/distributed_rows.h"
#include "rank_threads.h"
#include "util/interrupt.h"
#include "util/job_events.h"

namespace fs = std::filesystem;
using namespace xfer;

namespace {

// 3 classes, 103 images (prime: no rank count divides it), 3 of them broken.
fs::path make_data_set(const fs::path& root) {
  fs::remove_all(root);
  const char* classes[] = {"ant", "bee", "cow"};
  uint32_t state = 12345;
  auto next = [&] { return (state = state * 1664525u + 1013904223u) >> 24; };
  for (int i = 0; i < 103; ++i) {
    const int c = i % 3;
    const fs::path dir = root / classes[c];
    fs::create_directories(dir);
    const auto path = dir / ("img" + std::to_string(1000 + i) + ".png");
    if (i == 10 || i == 57 || i == 101) {
      std::ofstream(path) << "not a png";
      continue;
    }
    std::vector<uint8_t> pixels(10 * 10 * 3);
    for (size_t k = 0; k < pixels.size(); ++k)
      pixels[k] = static_cast<uint8_t>(std::min<uint32_t>(255, next() / 2 + static_cast<uint32_t>(c * 60 + (k % 3) * 20)));
    image::write_png(path, pixels.data(), 10, 10, 3);
  }
  return root;
}

struct JobResult {
  ml::LogisticRegressionModel model;
  featurize::PartRunSummary run;
};

featurize::JobInputs list_inputs(const fs::path& data) {
  auto folder = data::open_image_folder(data);
  return {folder.root.string(), folder.class_names, folder.samples};
}

// One rank's whole job: share the list, open the featuriser, featurise to the folder, train on its share.
JobResult run_job(dist::Communicator& comm, const fs::path& data, const fs::path& out, bool stage,
                  bool direct_reads = true) {
  auto list = [&] {
    if (stage && comm.rank() != 0) throw Error("this rank cannot see the data (staged)");
    return list_inputs(data);
  };
  const auto inputs = featurize::share_inputs(comm, list);
  featurize::FeaturizerSpec spec;
  spec.model = "pixels:4x4";  // 16 features for 100 rows: a well-posed fit
  spec.threads = 1;
  const auto featurizer =
      featurize::open_featurizer_everywhere(comm, [&] { return featurize::make_featurizer(spec); }, inputs, !stage, list);
  featurize::PartJobOptions options;
  options.part_size = 8;
  options.stage_data = stage;
  options.featurize.batch = 4;
  options.featurize.threads = 1;
  options.featurize.progress = false;
  options.keep_rows = true;
  JobResult result;
  result.run = featurize::featurize_to_folder(comm, inputs, *featurizer, options, out).run;
  const auto rows = pipeline::training_rows(comm, out, std::move(result.run.kept), direct_reads);
  ml::LogisticRegressionOptions lr;
  lr.reg = 0.05;
  lr.tol = 1e-15;
  lr.max_iter = 3000;
  std::function<void(double*, size_t)> allreduce;
  if (comm.size() > 1) allreduce = [&comm](double* v, size_t n) { comm.allreduce_sum(v, n); };
  result.model = ml::train_logistic_regression(rows.features.data(), rows.rows, rows.dim, rows.labels,
                                               static_cast<int>(rows.class_names.size()), lr, nullptr, allreduce);
  return result;
}

// Runs the job on n rank threads; returns rank 0's result.
JobResult run_on_ranks(int n, const fs::path& data, const fs::path& out, bool stage = false,
                       bool direct_reads = true) {
  std::vector<JobResult> results(static_cast<size_t>(n));
  dist::run_rank_threads(n, [&](dist::Communicator& comm) {
    results[static_cast<size_t>(comm.rank())] = run_job(comm, data, out, stage, direct_reads);
  });
  for (int r = 1; r < n; ++r) {  // every rank took the same optimiser steps
    EXPECT_EQ(results[static_cast<size_t>(r)].model.coefficients, results[0].model.coefficients);
    EXPECT_EQ(results[static_cast<size_t>(r)].model.intercepts, results[0].model.intercepts);
  }
  return results[0];
}

// Row by image path: features, label.
std::map<std::string, std::pair<std::vector<float>, int>> rows_by_path(const data::FeatureSet& set) {
  std::map<std::string, std::pair<std::vector<float>, int>> out;
  for (int64_t i = 0; i < set.rows; ++i)
    out[set.paths[static_cast<size_t>(i)]] = {
        std::vector<float>(set.features.begin() + i * set.dim, set.features.begin() + (i + 1) * set.dim),
        set.labels[static_cast<size_t>(i)]};
  return out;
}

// The largest difference relative to the largest value, for the coefficients and the intercepts each (raw pixel
// features make coefficients ~1e-2 and intercepts ~1: one common scale would hide or exaggerate either).
double relative_difference(const ml::LogisticRegressionModel& a, const ml::LogisticRegressionModel& b) {
  return std::max((a.coefficients - b.coefficients).cwiseAbs().maxCoeff() / a.coefficients.cwiseAbs().maxCoeff(),
                  (a.intercepts - b.intercepts).cwiseAbs().maxCoeff() / a.intercepts.cwiseAbs().maxCoeff());
}

class DistributedJob : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("xfer-dist-job-" + std::to_string(::getpid()));
    data_ = make_data_set(root_ / "data");
    single_ = run_on_ranks(1, data_, root_ / "features-1");
    single_rows_ = data::read_feature_set(root_ / "features-1");
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static void expect_same_as_single(const fs::path& out, const JobResult& result) {
    const auto set = data::read_feature_set(out);
    EXPECT_EQ(set.rows, 100);
    EXPECT_EQ(rows_by_path(set), rows_by_path(single_rows_));
    EXPECT_EQ(set.paths, single_rows_.paths);  // and in the same (input) order
    ASSERT_EQ(set.skipped.size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(set.skipped[i].path, single_rows_.skipped[i].path);
    EXPECT_LT(relative_difference(single_.model, result.model), 1e-6);
  }

  static inline fs::path root_, data_;
  static inline JobResult single_;
  static inline data::FeatureSet single_rows_;
};

TEST_F(DistributedJob, SingleProcessCommitsEveryPart) {
  EXPECT_EQ(single_.run.parts, 13);  // ceil(103 / 8)
  EXPECT_EQ(single_.run.parts_reused, 0);
  EXPECT_EQ(single_rows_.rows, 100);
  EXPECT_TRUE(single_.model.summary.converged || single_.model.summary.stop_reason.find("precision") != std::string::npos)
      << single_.model.summary.stop_reason;
}

TEST_F(DistributedJob, TwoThreeAndFourRanksGiveTheSingleProcessResult) {
  for (int n : {2, 3, 4}) {
    SCOPED_TRACE(n);
    const auto out = root_ / ("features-" + std::to_string(n));
    const auto result = run_on_ranks(n, data_, out);
    expect_same_as_single(out, result);
    // Every rank took parts, and the manifest says which rank and host computed each shard.
    ASSERT_EQ(result.run.ranks.size(), static_cast<size_t>(n));
    int64_t parts = 0, images = 0;
    for (const auto& r : result.run.ranks) {
      parts += r.parts_done;
      images += r.items_done;
      EXPECT_EQ(r.state, "done");
    }
    EXPECT_EQ(parts, 13);
    EXPECT_EQ(images, 103);
    const auto manifest = data::read_feature_manifest(out);
    for (const auto& shard : manifest.json["shards"]) {
      EXPECT_GE(shard["rank"].get<int>(), 0);
      EXPECT_LT(shard["rank"].get<int>(), n);
      EXPECT_FALSE(shard["host"].get<std::string>().empty());
    }
  }
}

TEST_F(DistributedJob, ReusedPartsAreSharedOutReadDirectlyOrSentByRankZero) {
  // Every part reused: the rows come from the folder, read by each rank itself or sent by rank 0.
  for (const bool direct : {true, false}) {
    SCOPED_TRACE(direct);
    const auto out = root_ / (direct ? "features-reused-direct" : "features-reused-sent");
    fs::copy(root_ / "features-1", out);
    const auto result = run_on_ranks(3, data_, out, false, direct);
    EXPECT_EQ(result.run.parts_reused, 13);
    expect_same_as_single(out, result);
  }
}

TEST_F(DistributedJob, MoreRanksThanPartsStillTrain) {
  // 13 parts on 16 ranks: three ranks hold no rows at all, yet take part in every allreduce.
  const auto out = root_ / "features-16";
  const auto result = run_on_ranks(16, data_, out);
  expect_same_as_single(out, result);
}

TEST_F(DistributedJob, StagedDataReachesRanksThatCannotListIt) {
  const auto out = root_ / "features-staged";
  const auto result = run_on_ranks(3, data_, out, /*stage=*/true);
  expect_same_as_single(out, result);
}

TEST_F(DistributedJob, RanksThatSeeAnotherDataSetStopTheJobBeforeAnyWork) {
  auto comms = dist::make_thread_communicators(2);
  const auto other = make_data_set(root_ / "other-data");
  fs::remove(other / "cow" / "img1002.png");  // rank 1's copy lacks one image
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      try {
        run_job(*comms[static_cast<size_t>(r)], r == 0 ? data_ : other, root_ / "features-mismatch", false);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors[0], errors[1]);
  EXPECT_NE(errors[0].find("rank 1 on"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("102 images"), std::string::npos) << errors[0];
  EXPECT_FALSE(fs::exists(root_ / "features-mismatch" / "manifest.json"));
}

// Stops the job (as SIGTERM would) once `after` parts have been committed.
struct InterruptAfterParts : JobObserver {
  explicit InterruptAfterParts(int64_t after) : after(after) {}
  void on_rank(const RankReport& r) override {
    total[r.rank] = r.parts_done;
    int64_t sum = 0;
    for (const auto& [rank, parts] : total) sum += parts;
    if (sum >= after) simulate_interrupt(SIGTERM);
  }
  int64_t after;
  std::map<int, int64_t> total;
};

TEST_F(DistributedJob, InterruptedJobKeepsItsPartsAndTheRerunDoesOnlyTheRest) {
  const auto out = root_ / "features-interrupted";
  auto stopper = std::make_shared<InterruptAfterParts>(5);
  add_job_observer(stopper);
  std::string message;
  try {
    run_on_ranks(2, data_, out);
  } catch (const Interrupted& e) {
    message = e.what();
    EXPECT_EQ(e.code(), 128 + SIGTERM);
  }
  remove_job_observer(stopper);
  simulate_interrupt(0);
  EXPECT_NE(message.find("the same command resumes"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(out / "manifest.json"));  // nothing looks complete
  int committed = 0;
  for (int k = 0; k < 13; ++k) committed += fs::exists(out / data::FeatureShardWriter::receipt_name(k));
  EXPECT_GE(committed, 5);
  EXPECT_LT(committed, 13);

  const auto rerun = run_on_ranks(3, data_, out);  // another rank count reuses the same parts
  EXPECT_EQ(rerun.run.parts_reused, committed);
  expect_same_as_single(out, rerun);
}

TEST_F(DistributedJob, PartCutShortOnDiskIsFoundByItsChecksumAndRedone) {
  const auto out = root_ / "features-damaged";
  run_on_ranks(2, data_, out);
  const auto victim = out / data::FeatureShardWriter::features_name(4);
  fs::resize_file(victim, fs::file_size(victim) / 2);
  const auto rerun = run_on_ranks(2, data_, out);
  EXPECT_EQ(rerun.run.parts_reused, 12);
  EXPECT_EQ(rerun.run.images_computed, 8);
  expect_same_as_single(out, rerun);
}

}  // namespace
