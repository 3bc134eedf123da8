#pragma once
// Feature sets: the rows a featuriser produced for a list of images, and the folder format that stores them so
// that numpy, pandas or any other tool reads them without xfer.
//
// Folder format (format_version 1):
//   features-00000.npy   float32, C order, shape [rows_in_shard, dim]: row r of the shard is feature vector r
//   index-00000.jsonl    one JSON object per row: {"row": global row, "path": "...", "label": 3, "class": "coat"}
//                        (label -1 and class "" when unknown)
//   shard-00000.json     the shard's receipt, written after its two files: rows, first_row, sha256 of both files,
//                        and the images of this shard that were skipped. A shard without a receipt is incomplete.
//   manifest.json        written last: {"format": "xfer-features", "format_version": 1, "featurizer": {...},
//                        "dim", "rows", "class_names", "counts": {"images", "featurized", "skipped",
//                        "per_class"}, "shards": [{"features", "index", "rows", "first_row", ...}],
//                        "skipped": [{"path", "reason"}]}
// Every file is written under a temporary name and renamed. A folder without manifest.json is incomplete.
// Shards are independent so that several MPI ranks can each write their own (shard k = rank k's slice) and an
// interrupted job can keep the shards whose receipts exist and redo only the others (FeatureShardWriter).
//
// In memory, FeatureSet.features is rows x dim row-major: component j of row i is features[i * dim + j].
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xfer::data {

inline constexpr int kFeatureFormatVersion = 1;

struct SkippedImage {
  std::filesystem::path path;
  std::string reason;  // without the path: "truncated JPEG file (Premature end of JPEG file)"
};

struct FeatureSet {
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> features;           // rows * dim, row-major
  std::vector<int> labels;               // rows; -1 when unknown
  std::vector<std::string> paths;        // rows
  std::vector<std::string> class_names;  // label i is class_names[i]
  std::vector<SkippedImage> skipped;     // images that could not be featurised, in input order
  nlohmann::json featurizer;             // Featurizer::describe() of what made the rows
};

// Writes the whole set as one folder (creating it; an older feature set there is replaced: its manifest is
// removed first, so the folder never looks complete while being rewritten). Rows are split into shards of
// at most shard_rows rows (0: one shard).
void write_feature_set(const std::filesystem::path& dir, const FeatureSet& set, int64_t shard_rows = 0);

// Reads and validates everything (manifest, every shard's shape, dtype, checksums, index rows, labels against
// the class names). Throws Error naming the file and what is wrong.
FeatureSet read_feature_set(const std::filesystem::path& dir);

// One shard's content: a contiguous slice of rows plus the skipped images that fell in its slice of inputs.
struct FeatureShard {
  int64_t first_row = 0;  // global row number of the shard's first row
  int64_t rows = 0;
  const float* features = nullptr;  // rows * dim
  const int* labels = nullptr;
  const std::string* paths = nullptr;
  std::vector<SkippedImage> skipped;
  int64_t images = 0;  // inputs of this shard (rows + skipped)
};

// Writes shards one by one (by any rank, in any order) and then the manifest. Resuming: complete_shard()
// tells whether shard k's receipt exists and matches this featuriser and dim, so its work can be skipped.
class FeatureShardWriter {
 public:
  FeatureShardWriter(std::filesystem::path dir, nlohmann::json featurizer, int64_t dim,
                     std::vector<std::string> class_names);

  // Removes manifest.json (the folder becomes "incomplete") and, when fresh, every shard file of an older set.
  void begin(bool fresh);
  bool complete_shard(int shard) const;
  void write_shard(int shard, const FeatureShard& content);
  // Writes the manifest from the receipts of shards 0..n_shards-1 (all must be complete).
  void finish(int n_shards);

  static std::string features_name(int shard);  // features-00000.npy
  static std::string index_name(int shard);     // index-00000.jsonl
  static std::string receipt_name(int shard);   // shard-00000.json

 private:
  std::optional<nlohmann::json> read_receipt(int shard) const;

  std::filesystem::path dir_;
  nlohmann::json featurizer_;
  int64_t dim_;
  std::vector<std::string> class_names_;
};

}  // namespace xfer::data
