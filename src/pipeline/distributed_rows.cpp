#include "pipeline/distributed_rows.h"

#include <fmt/format.h>

#include "dist/agreement.h"
#include "dist/wire.h"
#include "util/sha256.h"

namespace xfer::pipeline {
namespace {

using nlohmann::json;
constexpr int kRowsTag = 201;

}  // namespace

int64_t first_row_of_rank(int64_t n, int rank, int size) {
  // floor(n * rank / size) without overflow: n = q * size + r.
  const int64_t q = n / size, r = n % size;
  return q * rank + r * rank / size;
}

data::FeatureSet load_rows_for_rank(dist::Communicator& comm, const std::filesystem::path& dir,
                                    bool allow_direct_reads) {
  if (comm.size() == 1) return data::read_feature_set(dir);

  data::FeatureManifest manifest;
  const auto header = dist::decode(dist::broadcast_from_root(comm, "reading the features", [&] {
    manifest = data::read_feature_manifest(dir);
    if (manifest.rows < comm.size())
      usage_fail("{}: {} feature rows cannot be shared by {} ranks; run with at most {} ranks", dir.string(),
                 manifest.rows, comm.size(), manifest.rows);
    return dist::encode({{"rows", manifest.rows},
                         {"dim", manifest.dim},
                         {"class_names", manifest.class_names},
                         {"featurizer", manifest.featurizer},
                         {"manifest_sha256", sha256_file_hex(dir / "manifest.json")}});
  }));
  data::FeatureSet mine;
  mine.dim = header.at("dim").get<int64_t>();
  mine.class_names = header.at("class_names").get<std::vector<std::string>>();
  mine.featurizer = header.at("featurizer");
  const int64_t n = header.at("rows").get<int64_t>();
  const int64_t begin = first_row_of_rank(n, comm.rank(), comm.size());
  const int64_t end = first_row_of_rank(n, comm.rank() + 1, comm.size());
  mine.rows = end - begin;
  mine.features.reserve(static_cast<size_t>(mine.rows * mine.dim));
  mine.labels.reserve(static_cast<size_t>(mine.rows));

  // Does every rank see the same folder? Then each reads its own share.
  int64_t blind = 0;
  if (comm.rank() != 0) {
    std::error_code ec;
    const auto path = dir / "manifest.json";
    blind = !allow_direct_reads || !std::filesystem::exists(path, ec) ||
            sha256_file_hex(path) != header.at("manifest_sha256").get<std::string>();
  }
  comm.allreduce_sum(&blind, 1);
  if (blind == 0) {
    if (comm.rank() != 0) manifest = data::read_feature_manifest(dir);
    int64_t row = 0;
    for (int k = 0; k < manifest.n_shards() && row < end; ++k) {
      const int64_t rows = manifest.json.at("shards").at(static_cast<size_t>(k)).at("rows").get<int64_t>();
      if (row + rows > begin) {
        const auto shard = data::read_feature_shard(dir, manifest, k);
        const int64_t from = std::max(begin, row) - row, to = std::min(end, row + rows) - row;
        mine.features.insert(mine.features.end(), shard.features.begin() + from * mine.dim,
                             shard.features.begin() + to * mine.dim);
        mine.labels.insert(mine.labels.end(), shard.labels.begin() + from, shard.labels.begin() + to);
        if (comm.rank() == 0) mine.paths.insert(mine.paths.end(), shard.paths.begin() + from, shard.paths.begin() + to);
      }
      row += rows;
    }
    if (comm.rank() == 0) mine.skipped = manifest.skipped;
  } else if (comm.rank() == 0) {
    mine.skipped = manifest.skipped;
    int64_t row = 0;  // global row of the shard's first row
    for (int k = 0; k < manifest.n_shards(); ++k) {
      const auto shard = data::read_feature_shard(dir, manifest, k);
      // Cut the shard at the owners' boundaries; each piece goes to its owner in row order.
      for (int64_t i = 0; i < shard.rows;) {
        const int64_t global = row + i;
        int owner = 0;
        while (first_row_of_rank(n, owner + 1, comm.size()) <= global) ++owner;
        const int64_t piece = std::min(shard.rows - i, first_row_of_rank(n, owner + 1, comm.size()) - global);
        const float* f = shard.features.data() + i * mine.dim;
        const int* l = shard.labels.data() + i;
        if (owner == 0) {
          mine.features.insert(mine.features.end(), f, f + piece * mine.dim);
          mine.labels.insert(mine.labels.end(), l, l + piece);
          mine.paths.insert(mine.paths.end(), shard.paths.begin() + i, shard.paths.begin() + i + piece);
        } else {
          comm.send(owner, kRowsTag,
                    dist::encode({{"features", dist::to_binary(std::span<const float>(f, static_cast<size_t>(piece * mine.dim)))},
                                  {"labels", dist::to_binary(std::span<const int>(l, static_cast<size_t>(piece)))}}));
        }
        i += piece;
      }
      row += shard.rows;
    }
  } else {
    while (static_cast<int64_t>(mine.labels.size()) < mine.rows) {
      const auto piece = dist::decode(dist::receive(comm, kRowsTag).bytes);
      const auto f = dist::from_binary<float>(piece.at("features"));
      const auto l = dist::from_binary<int>(piece.at("labels"));
      mine.features.insert(mine.features.end(), f.begin(), f.end());
      mine.labels.insert(mine.labels.end(), l.begin(), l.end());
    }
  }
  if (static_cast<int64_t>(mine.labels.size()) != mine.rows ||
      static_cast<int64_t>(mine.features.size()) != mine.rows * mine.dim)
    fail("rank {}: received {} rows for a share of {}", comm.rank(), mine.labels.size(), mine.rows);
  // Rank 0's reads and sends are done once every rank has its rows (its sends may still be in flight).
  comm.barrier();
  return mine;
}

}  // namespace xfer::pipeline
