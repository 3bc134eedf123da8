#include "data/feature_set.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/npy.h"
#include "util/sha256.h"

namespace xfer::data {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kFormat = "xfer-features";

// Paths are not always valid UTF-8; JSON must be. Invalid bytes become U+FFFD instead of failing the job.
std::string dump(const json& j, int indent = -1) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

json skipped_to_json(const std::vector<SkippedImage>& skipped) {
  json out = json::array();
  for (const auto& s : skipped) out.push_back({{"path", s.path.string()}, {"reason", s.reason}});
  return out;
}

std::vector<SkippedImage> skipped_from_json(const json& j) {
  std::vector<SkippedImage> out;
  for (const auto& s : j) out.push_back({s.at("path").get<std::string>(), s.at("reason").get<std::string>()});
  return out;
}

json parse_json_file(const fs::path& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON ({})", path.string(), e.what());
  }
}

}  // namespace

FeatureShardWriter::FeatureShardWriter(fs::path dir, json featurizer, int64_t dim, std::vector<std::string> class_names)
    : dir_(std::move(dir)), featurizer_(std::move(featurizer)), dim_(dim), class_names_(std::move(class_names)) {}

std::string FeatureShardWriter::features_name(int shard) { return fmt::format("features-{:05d}.npy", shard); }
std::string FeatureShardWriter::index_name(int shard) { return fmt::format("index-{:05d}.jsonl", shard); }
std::string FeatureShardWriter::receipt_name(int shard) { return fmt::format("shard-{:05d}.json", shard); }

void FeatureShardWriter::begin(bool fresh) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) fail("{}: cannot create the features folder: {}", dir_.string(), ec.message());
  // First make the folder visibly incomplete, then clear what an older set left.
  fs::remove(dir_ / kManifest, ec);
  if (ec) fail("{}: cannot remove the old manifest: {}", (dir_ / kManifest).string(), ec.message());
  if (!fresh) return;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const auto name = entry.path().filename().string();
    auto is = [&](const char* prefix, const char* suffix) {
      return name.starts_with(prefix) && name.ends_with(suffix);
    };
    if (is("features-", ".npy") || is("index-", ".jsonl") || is("shard-", ".json")) fs::remove(entry.path());
  }
}

std::optional<json> FeatureShardWriter::read_receipt(int shard) const {
  const auto path = dir_ / receipt_name(shard);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    auto receipt = json::parse(read_file(path));
    if (receipt.at("featurizer") != featurizer_ || receipt.at("dim").get<int64_t>() != dim_ ||
        receipt.at("class_names").get<std::vector<std::string>>() != class_names_)
      return std::nullopt;
    if (!fs::exists(dir_ / receipt.at("features").get<std::string>()) ||
        !fs::exists(dir_ / receipt.at("index").get<std::string>()))
      return std::nullopt;
    return receipt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool FeatureShardWriter::complete_shard(int shard) const { return read_receipt(shard).has_value(); }

void FeatureShardWriter::write_shard(int shard, const FeatureShard& content) {
  const auto features = dir_ / features_name(shard);
  const auto index = dir_ / index_name(shard);
  std::error_code ec;
  fs::remove(dir_ / receipt_name(shard), ec);  // the shard is incomplete until its new receipt exists

  write_npy(features, content.features, {content.rows, dim_});
  std::vector<int64_t> per_class(class_names_.size(), 0);
  {
    AtomicFileWriter out(index, /*binary=*/true);
    for (int64_t i = 0; i < content.rows; ++i) {
      const int label = content.labels[i];
      std::string class_name;
      if (label >= 0) {
        if (static_cast<size_t>(label) >= class_names_.size())
          fail("{}: label {} of {} is not a class (there are {})", index.string(), label, content.paths[i],
               class_names_.size());
        class_name = class_names_[static_cast<size_t>(label)];
        ++per_class[static_cast<size_t>(label)];
      }
      out.stream() << dump(json{{"row", content.first_row + i}, {"path", content.paths[i]}, {"label", label},
                                {"class", class_name}})
                   << '\n';
    }
    out.commit();
  }
  json receipt = {{"shard", shard},
                  {"features", features_name(shard)},
                  {"index", index_name(shard)},
                  {"features_sha256", sha256_file_hex(features)},
                  {"index_sha256", sha256_file_hex(index)},
                  {"first_row", content.first_row},
                  {"rows", content.rows},
                  {"images", content.images},
                  {"per_class", per_class},
                  {"skipped", skipped_to_json(content.skipped)},
                  {"dim", dim_},
                  {"class_names", class_names_},
                  {"featurizer", featurizer_}};
  write_file_atomically(dir_ / receipt_name(shard), dump(receipt, 1) + "\n");
}

void FeatureShardWriter::finish(int n_shards) {
  json shards = json::array();
  json skipped = json::array();
  int64_t rows = 0, images = 0;
  std::vector<int64_t> per_class(class_names_.size(), 0);
  for (int k = 0; k < n_shards; ++k) {
    auto receipt = read_receipt(k);
    if (!receipt) fail("{}: shard {} is missing or incomplete ({})", dir_.string(), k, receipt_name(k));
    if (receipt->at("first_row").get<int64_t>() != rows)
      fail("{}: shard {} starts at row {}, expected {}", dir_.string(), k, receipt->at("first_row").get<int64_t>(), rows);
    rows += receipt->at("rows").get<int64_t>();
    images += receipt->at("images").get<int64_t>();
    auto counts = receipt->at("per_class").get<std::vector<int64_t>>();
    for (size_t c = 0; c < per_class.size() && c < counts.size(); ++c) per_class[c] += counts[c];
    for (const auto& s : receipt->at("skipped")) skipped.push_back(s);
    shards.push_back({{"features", receipt->at("features")},
                      {"index", receipt->at("index")},
                      {"features_sha256", receipt->at("features_sha256")},
                      {"index_sha256", receipt->at("index_sha256")},
                      {"first_row", receipt->at("first_row")},
                      {"rows", receipt->at("rows")}});
  }
  json per_class_json = json::object();
  for (size_t c = 0; c < class_names_.size(); ++c) per_class_json[class_names_[c]] = per_class[c];
  json manifest = {{"format", kFormat},
                   {"format_version", kFeatureFormatVersion},
                   {"featurizer", featurizer_},
                   {"dim", dim_},
                   {"rows", rows},
                   {"dtype", "float32"},
                   {"class_names", class_names_},
                   {"counts", {{"images", images}, {"featurized", rows}, {"skipped", skipped.size()},
                               {"per_class", per_class_json}}},
                   {"shards", shards},
                   {"skipped", skipped}};
  write_file_atomically(dir_ / kManifest, dump(manifest, 1) + "\n");
}

void write_feature_set(const fs::path& dir, const FeatureSet& set, int64_t shard_rows) {
  if (static_cast<int64_t>(set.features.size()) != set.rows * set.dim || static_cast<int64_t>(set.labels.size()) != set.rows ||
      static_cast<int64_t>(set.paths.size()) != set.rows)
    fail("{}: inconsistent feature set ({} rows x {} dims, {} values, {} labels, {} paths)", dir.string(), set.rows,
         set.dim, set.features.size(), set.labels.size(), set.paths.size());
  FeatureShardWriter writer(dir, set.featurizer, set.dim, set.class_names);
  writer.begin(/*fresh=*/true);
  if (shard_rows <= 0) shard_rows = std::max<int64_t>(set.rows, 1);
  int shard = 0;
  for (int64_t first = 0; first < set.rows || shard == 0; first += shard_rows, ++shard) {
    FeatureShard content;
    content.first_row = first;
    content.rows = std::min(shard_rows, set.rows - first);
    content.features = set.features.data() + first * set.dim;
    content.labels = set.labels.data() + first;
    content.paths = set.paths.data() + first;
    content.images = content.rows;
    if (shard == 0) {  // the skipped images are not tied to a row: the first shard lists them
      content.skipped = set.skipped;
      content.images += static_cast<int64_t>(set.skipped.size());
    }
    writer.write_shard(shard, content);
  }
  writer.finish(shard);
}

FeatureSet read_feature_set(const fs::path& dir) {
  const auto manifest_path = dir / kManifest;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("{}: no such features folder", dir.string());
  if (!fs::exists(manifest_path, ec))
    fail("{}: no manifest.json: the feature set is incomplete (interrupted?) or this is not a features folder",
         dir.string());
  const json manifest = parse_json_file(manifest_path);
  FeatureSet set;
  try {
    if (manifest.at("format").get<std::string>() != kFormat)
      fail("{}: not an xfer feature manifest (format '{}')", manifest_path.string(), manifest.at("format").dump());
    const int version = manifest.at("format_version").get<int>();
    if (version != kFeatureFormatVersion)
      fail("{}: feature format version {} is not supported (this xfer reads version {})", manifest_path.string(),
           version, kFeatureFormatVersion);
    set.dim = manifest.at("dim").get<int64_t>();
    set.rows = manifest.at("rows").get<int64_t>();
    set.class_names = manifest.at("class_names").get<std::vector<std::string>>();
    set.featurizer = manifest.at("featurizer");
    set.skipped = skipped_from_json(manifest.at("skipped"));
    if (set.dim <= 0 || set.rows < 0) fail("{}: invalid dim {} or rows {}", manifest_path.string(), set.dim, set.rows);
    set.features.reserve(static_cast<size_t>(set.rows * set.dim));
    for (const auto& shard : manifest.at("shards")) {
      const auto features_path = dir / shard.at("features").get<std::string>();
      const auto index_path = dir / shard.at("index").get<std::string>();
      const auto first_row = shard.at("first_row").get<int64_t>();
      const auto rows = shard.at("rows").get<int64_t>();
      if (first_row != static_cast<int64_t>(set.labels.size()))
        fail("{}: shard {} starts at row {}, expected {}", manifest_path.string(), features_path.filename().string(),
             first_row, set.labels.size());
      if (sha256_file_hex(features_path) != shard.at("features_sha256").get<std::string>())
        fail("{}: checksum does not match the manifest (file changed or damaged)", features_path.string());
      if (sha256_file_hex(index_path) != shard.at("index_sha256").get<std::string>())
        fail("{}: checksum does not match the manifest (file changed or damaged)", index_path.string());
      const NpyArray array = read_npy(features_path);
      if (array.dtype != NpyDtype::float32) fail("{}: features must be float32", features_path.string());
      if (array.shape != std::vector<int64_t>{rows, set.dim})
        fail("{}: shape ({}) does not match the manifest ({}, {})", features_path.string(),
             fmt::join(array.shape, ", "), rows, set.dim);
      const auto* values = reinterpret_cast<const float*>(array.bytes.data());
      set.features.insert(set.features.end(), values, values + rows * set.dim);

      std::ifstream index(index_path);
      std::string line;
      int64_t i = 0;
      while (std::getline(index, line)) {
        if (line.empty()) continue;
        json entry;
        try {
          entry = json::parse(line);
        } catch (const json::exception& e) {
          fail("{}: line {} is not valid JSON ({})", index_path.string(), i + 1, e.what());
        }
        if (entry.at("row").get<int64_t>() != first_row + i)
          fail("{}: line {} is row {}, expected {}", index_path.string(), i + 1, entry.at("row").get<int64_t>(), first_row + i);
        const int label = entry.at("label").get<int>();
        if (label < -1 || label >= static_cast<int>(set.class_names.size()))
          fail("{}: line {}: label {} is not a class index", index_path.string(), i + 1, label);
        if (label >= 0 && entry.at("class").get<std::string>() != set.class_names[static_cast<size_t>(label)])
          fail("{}: line {}: class '{}' does not match label {} ('{}')", index_path.string(), i + 1,
               entry.at("class").get<std::string>(), label, set.class_names[static_cast<size_t>(label)]);
        set.labels.push_back(label);
        set.paths.push_back(entry.at("path").get<std::string>());
        ++i;
      }
      if (i != rows) fail("{}: {} rows, the manifest says {}", index_path.string(), i, rows);
    }
    if (static_cast<int64_t>(set.labels.size()) != set.rows)
      fail("{}: the shards hold {} rows, the manifest says {}", manifest_path.string(), set.labels.size(), set.rows);
  } catch (const json::exception& e) {
    fail("{}: invalid manifest ({})", manifest_path.string(), e.what());
  }
  return set;
}

}  // namespace xfer::data
