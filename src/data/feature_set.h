#pragma once
// Feature sets: the rows a featuriser produced for a list of images, and the folder format that stores them so
// that numpy, pandas or any other tool reads them without xfer.
//
// Folder format (format_version 2):
//   features-00000.npy   float32, C order, shape [rows_in_shard, dim]: row r of the shard is feature vector r
//   index-00000.jsonl    line r describes row r of the shard's .npy: {"image": position of the image in the
//                        job's sorted input list, "path": "...", "label": 3, "class": "coat"}
//                        (label -1 and class "" when unknown)
//   shard-00000.json     the shard's receipt, written after its two files: rows, the inputs it covers, sha256 of
//                        both files, the images of this shard that were skipped, who computed it (rank, host),
//                        and the job identity it belongs to. A shard without a receipt is incomplete.
//   manifest.json        written last: {"format": "xfer-features", "format_version": 2, "featurizer": {...},
//                        "dim", "rows", "class_names", "counts": {"images", "featurized", "skipped",
//                        "per_class"}, "shards": [{"features", "index", "rows", "first_row", "first_image",
//                        "images", "rank", "host", ...}], "skipped": [{"path", "reason"}]}
// Concatenating the shards in manifest order gives the rows in input order: shard k holds the good images among
// inputs [first_image, first_image + images). Version 1 folders (index lines with a global "row") still read.
// Every file is written under a temporary name and renamed. A folder without manifest.json is incomplete.
// Shards are independent so that MPI ranks can compute them in any order (a shard is a "part" of the job) and
// an interrupted job keeps the shards whose receipts and checksums are intact and redoes only the others.
//
// In memory, FeatureSet.features is rows x dim row-major: component j of row i is features[i * dim + j].
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace xfer::data {

inline constexpr int kFeatureFormatVersion = 2;

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

// One shard's content: the good images among a contiguous range of inputs, and the ones that were skipped.
struct FeatureShard {
  int64_t first_image = 0;  // position of the shard's first input in the job's input list
  int64_t images = 0;       // inputs of this shard (rows + skipped)
  int64_t rows = 0;
  const float* features = nullptr;       // rows * dim
  const int* labels = nullptr;           // rows
  const std::string* paths = nullptr;    // rows
  const int64_t* image_index = nullptr;  // rows: each row's input position; nullptr: first_image + row
  std::vector<SkippedImage> skipped;
  std::string identity;  // what must match for a rerun to reuse this shard (the job's inputs and settings)
  int rank = 0;          // who computed it
  std::string host;
};

class EmptyFeatureSet : public Error {
 public:
  EmptyFeatureSet(const std::string& message, int64_t skipped) : Error(message), skipped_(skipped) {}
  int64_t skipped() const { return skipped_; }

 private:
  int64_t skipped_;
};

// Writes shards one by one (in any order) and then the manifest. Resuming: complete_shard() tells whether
// shard k's receipt exists, belongs to this featuriser, dim, classes and job identity, and whether both its
// files still have the checksums the receipt recorded (a file cut short on disk is found here and redone).
class FeatureShardWriter {
 public:
  FeatureShardWriter(std::filesystem::path dir, nlohmann::json featurizer, int64_t dim,
                     std::vector<std::string> class_names);

  // Removes manifest.json (the folder becomes "incomplete") and, when fresh, every shard file of an older set.
  void begin(bool fresh);
  // Removes the files of shards numbered n_shards and up (left by an older, larger job in the same folder).
  void remove_shards_from(int n_shards);
  bool complete_shard(int shard, const std::string& identity = "") const;
  void write_shard(int shard, const FeatureShard& content);
  // Writes the manifest from the receipts of shards 0..n_shards-1 (all must be complete) and returns it. Without
  // allow_empty, a set of zero rows throws EmptyFeatureSet and no manifest is written.
  nlohmann::json finish(int n_shards, bool allow_empty = true);

  static std::string features_name(int shard);  // features-00000.npy
  static std::string index_name(int shard);     // index-00000.jsonl
  static std::string receipt_name(int shard);   // shard-00000.json

 private:
  std::optional<nlohmann::json> read_receipt(int shard, bool verify_files) const;

  std::filesystem::path dir_;
  nlohmann::json featurizer_;
  int64_t dim_;
  std::vector<std::string> class_names_;
};

// The manifest and one shard at a time, for readers that must not hold the whole set (rank 0 handing rows out).
struct FeatureManifest {
  nlohmann::json json;
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<std::string> class_names;
  nlohmann::json featurizer;
  std::vector<SkippedImage> skipped;
  int n_shards() const { return static_cast<int>(json.at("shards").size()); }
};
FeatureManifest read_feature_manifest(const std::filesystem::path& dir);
// Shard k's rows (checksums verified) as a FeatureSet with only those rows (no skipped list).
FeatureSet read_feature_shard(const std::filesystem::path& dir, const FeatureManifest& manifest, int shard);

}  // namespace xfer::data
