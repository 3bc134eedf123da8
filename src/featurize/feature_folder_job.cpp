#include "featurize/feature_folder_job.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "data/feature_set.h"
#include "util/sha256.h"

namespace xfer::featurize {
namespace {

class ShardSink final : public PartSink {
 public:
  ShardSink(const JobInputs& inputs, const Featurizer& featurizer, const PartJobOptions& options,
            std::filesystem::path dir)
      : inputs_(inputs), options_(options), dir_(std::move(dir)),
        writer_(dir_, featurizer.describe(), featurizer.feature_dim(), inputs.class_names) {}

  data::FeatureShardWriter& writer() { return writer_; }

  bool already_done(int64_t part) override {
    return writer_.complete_shard(static_cast<int>(part), part_identity(inputs_, part, options_.part_size));
  }

  void accept(PartResult&& result) override {
    data::FeatureShard shard;
    shard.first_image = result.first_image;
    shard.images = result.images;
    shard.rows = result.rows.rows;
    shard.features = result.rows.features.data();
    shard.labels = result.rows.labels.data();
    shard.paths = result.rows.paths.data();
    shard.image_index = result.rows.image_index.data();
    shard.skipped = std::move(result.rows.skipped);
    shard.identity = part_identity(inputs_, result.part, options_.part_size);
    shard.rank = result.rank;
    shard.host = result.host;
    writer_.write_shard(static_cast<int>(result.part), shard);
  }

  std::string interrupted_hint(int64_t parts_done, int64_t parts) const override {
    return fmt::format("The {} finished parts of {} are committed in {}; the same command resumes from them.",
                       parts_done, parts, dir_.string());
  }

 private:
  const JobInputs& inputs_;
  const PartJobOptions& options_;
  std::filesystem::path dir_;
  data::FeatureShardWriter writer_;
};

}  // namespace

std::string part_identity(const JobInputs& inputs, int64_t part, int64_t part_size) {
  const int64_t first = part * part_size;
  const int64_t end = std::min<int64_t>(first + part_size, static_cast<int64_t>(inputs.samples.size()));
  std::string text = fmt::format("part {} of size {}\n", part, part_size);
  for (int64_t i = first; i < end; ++i) {
    const auto& s = inputs.samples[static_cast<size_t>(i)];
    text += s.path.string() + '\t' + std::to_string(s.label) + '\n';
  }
  return sha256_hex(text);
}

FolderJobResult featurize_to_folder(dist::Communicator& comm, const JobInputs& inputs, const Featurizer& featurizer,
                                    const PartJobOptions& options, const std::filesystem::path& dir) {
  FolderJobResult result;
  if (comm.rank() != 0) {
    result.run = run_parts(comm, inputs.samples, featurizer, options, nullptr);
    return result;
  }
  ShardSink sink(inputs, featurizer, options, dir);
  const int64_t parts = part_count(static_cast<int64_t>(inputs.samples.size()), options.part_size);
  // Rank 0 prepares the folder while the others wait for their first part: the manifest goes first, so the
  // folder never looks complete while it is being rewritten.
  sink.writer().begin(/*fresh=*/false);
  sink.writer().remove_shards_from(static_cast<int>(parts));
  result.run = run_parts(comm, inputs.samples, featurizer, options, &sink);
  try {
    result.manifest = sink.writer().finish(static_cast<int>(parts), /*allow_empty=*/false);
  } catch (const data::EmptyFeatureSet& e) {
    fail("{}: no image could be read ({} skipped); no feature set written to {}", inputs.root, e.skipped(),
         dir.string());
  }
  return result;
}

}  // namespace xfer::featurize
