#include "pipeline/distributed_rows.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "dist/agreement.h"
#include "dist/wire.h"
#include "util/sha256.h"

namespace xfer::pipeline {
namespace {

using nlohmann::json;
constexpr int kRowsTag = 201;

void append(data::FeatureSet& to, const data::FeatureSet& part) {
  to.features.insert(to.features.end(), part.features.begin(), part.features.end());
  to.labels.insert(to.labels.end(), part.labels.begin(), part.labels.end());
}

}  // namespace

data::FeatureSet training_rows(dist::Communicator& comm, const std::filesystem::path& dir,
                               std::vector<featurize::KeptPart> kept, bool allow_direct_reads) {
  // Rank 0 reads the manifest; every rank learns the set's shape and which parts nobody holds.
  json kept_parts = json::array();
  for (const auto& k : kept) kept_parts.push_back(k.part);
  const auto held = comm.gather(dist::encode(kept_parts), 0);
  data::FeatureManifest manifest;
  const auto plan = dist::decode(dist::broadcast_from_root(comm, "reading the features", [&] {
    manifest = data::read_feature_manifest(dir);
    std::vector<char> is_held(static_cast<size_t>(manifest.n_shards()), 0);
    for (const auto& bytes : held)
      for (const auto& part : dist::decode(bytes)) {
        const auto k = part.get<int64_t>();
        if (k < 0 || k >= manifest.n_shards()) fail("{}: a rank holds part {}, the manifest has {}", dir.string(), k,
                                                    manifest.n_shards());
        is_held[static_cast<size_t>(k)] = 1;
      }
    // The parts nobody holds go round-robin to the ranks.
    json owner = json::object();
    int next = 0;
    for (int k = 0; k < manifest.n_shards(); ++k)
      if (!is_held[static_cast<size_t>(k)]) owner[std::to_string(k)] = next++ % comm.size();
    return dist::encode({{"dim", manifest.dim},
                         {"class_names", manifest.class_names},
                         {"featurizer", manifest.featurizer},
                         {"manifest_sha256", sha256_file_hex(dir / "manifest.json")},
                         {"owner", owner}});
  }));

  data::FeatureSet mine;
  mine.dim = plan.at("dim").get<int64_t>();
  mine.class_names = plan.at("class_names").get<std::vector<std::string>>();
  mine.featurizer = plan.at("featurizer");
  if (comm.rank() == 0) mine.skipped = manifest.skipped;

  // Does every rank see the same folder? Then each reads its own reused parts.
  int64_t blind = 0;
  if (comm.rank() != 0) {
    std::error_code ec;
    const auto path = dir / "manifest.json";
    blind = !allow_direct_reads || !std::filesystem::exists(path, ec) ||
            sha256_file_hex(path) != plan.at("manifest_sha256").get<std::string>();
  }
  comm.allreduce_sum(&blind, 1);
  if (blind == 0 && comm.rank() != 0) manifest = data::read_feature_manifest(dir);

  // This rank's parts in part order: the ones it computed, and the reused ones it owns.
  std::map<int64_t, data::FeatureSet> parts;
  for (auto& k : kept) {
    data::FeatureSet p;
    p.dim = mine.dim;
    p.rows = k.rows.rows;
    p.features = std::move(k.rows.features);
    p.labels = std::move(k.rows.labels);
    parts.emplace(k.part, std::move(p));
  }
  kept.clear();
  int expected_from_root = 0;
  for (const auto& [key, owner] : plan.at("owner").items()) {
    const int k = std::stoi(key);
    const int rank = owner.get<int>();
    if (blind == 0 || comm.size() == 1) {
      if (rank == comm.rank()) parts.emplace(k, data::read_feature_shard(dir, manifest, k));
    } else if (comm.rank() == 0) {
      auto shard = data::read_feature_shard(dir, manifest, k);
      if (rank == 0) {
        parts.emplace(k, std::move(shard));
      } else {
        comm.send(rank, kRowsTag,
                  dist::encode({{"part", k},
                                {"features", dist::to_binary(std::span<const float>(shard.features))},
                                {"labels", dist::to_binary(std::span<const int>(shard.labels))}}));
      }
    } else if (rank == comm.rank()) {
      ++expected_from_root;
    }
  }
  for (int i = 0; i < expected_from_root; ++i) {
    const auto piece = dist::decode(dist::receive(comm, kRowsTag).bytes);
    data::FeatureSet p;
    p.dim = mine.dim;
    p.features = dist::from_binary<float>(piece.at("features"));
    const auto labels = dist::from_binary<int>(piece.at("labels"));
    p.labels.assign(labels.begin(), labels.end());
    p.rows = static_cast<int64_t>(p.labels.size());
    if (static_cast<int64_t>(p.features.size()) != p.rows * p.dim)
      fail("rank {}: part {} arrived with {} values for {} rows", comm.rank(), piece.at("part").get<int>(),
           p.features.size(), p.rows);
    parts.emplace(piece.at("part").get<int64_t>(), std::move(p));
  }
  for (const auto& [k, p] : parts) append(mine, p);
  mine.rows = static_cast<int64_t>(mine.labels.size());
  // Rank 0's sends are done once every rank has its rows (they may still be in flight until then).
  comm.barrier();
  return mine;
}

}  // namespace xfer::pipeline
