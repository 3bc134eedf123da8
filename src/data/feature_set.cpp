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

namespace {
// The shard number of a shard file name ("features-00012.npy" -> 12), or -1.
int shard_number(const std::string& name) {
  for (const char* prefix : {"features-", "index-", "shard-"}) {
    if (!name.starts_with(prefix)) continue;
    const auto dot = name.find('.');
    const auto digits = name.substr(std::string(prefix).size(), dot - std::string(prefix).size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    if (!(name.ends_with(".npy") || name.ends_with(".jsonl") || name.ends_with(".json"))) return -1;
    return std::stoi(digits);
  }
  return -1;
}
}  // namespace

void FeatureShardWriter::begin(bool fresh) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) fail("{}: cannot create the features folder: {}", dir_.string(), ec.message());
  // First make the folder visibly incomplete, then clear what an older set left.
  fs::remove(dir_ / kManifest, ec);
  if (ec) fail("{}: cannot remove the old manifest: {}", (dir_ / kManifest).string(), ec.message());
  if (fresh) remove_shards_from(0);
}

void FeatureShardWriter::remove_shards_from(int n_shards) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const int k = shard_number(entry.path().filename().string());
    if (k >= n_shards) fs::remove(entry.path(), ec);
  }
}

std::optional<json> FeatureShardWriter::read_receipt(int shard, bool verify_files) const {
  const auto path = dir_ / receipt_name(shard);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    auto receipt = json::parse(read_file(path));
    if (receipt.at("featurizer") != featurizer_ || receipt.at("dim").get<int64_t>() != dim_ ||
        receipt.at("class_names").get<std::vector<std::string>>() != class_names_)
      return std::nullopt;
    const auto features = dir_ / receipt.at("features").get<std::string>();
    const auto index = dir_ / receipt.at("index").get<std::string>();
    if (!fs::exists(features) || !fs::exists(index)) return std::nullopt;
    if (verify_files && (sha256_file_hex(features) != receipt.at("features_sha256").get<std::string>() ||
                         sha256_file_hex(index) != receipt.at("index_sha256").get<std::string>())) {
      spdlog::warn("{}: shard {} does not match its receipt's checksum (cut short or changed): computing it again",
                   dir_.string(), shard);
      return std::nullopt;
    }
    return receipt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool FeatureShardWriter::complete_shard(int shard, const std::string& identity) const {
  auto receipt = read_receipt(shard, /*verify_files=*/true);
  return receipt && receipt->value("identity", "") == identity;
}

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
      const int64_t image = content.image_index ? content.image_index[i] : content.first_image + i;
      out.stream() << dump(json{{"image", image}, {"path", content.paths[i]}, {"label", label}, {"class", class_name}})
                   << '\n';
    }
    out.commit();
  }
  json receipt = {{"shard", shard},
                  {"features", features_name(shard)},
                  {"index", index_name(shard)},
                  {"features_sha256", sha256_file_hex(features)},
                  {"index_sha256", sha256_file_hex(index)},
                  {"first_image", content.first_image},
                  {"images", content.images},
                  {"rows", content.rows},
                  {"per_class", per_class},
                  {"skipped", skipped_to_json(content.skipped)},
                  {"rank", content.rank},
                  {"host", content.host},
                  {"identity", content.identity},
                  {"dim", dim_},
                  {"class_names", class_names_},
                  {"featurizer", featurizer_}};
  write_file_atomically(dir_ / receipt_name(shard), dump(receipt, 1) + "\n");
}

json FeatureShardWriter::finish(int n_shards, bool allow_empty) {
  json shards = json::array();
  json skipped = json::array();
  int64_t rows = 0, images = 0;
  std::vector<int64_t> per_class(class_names_.size(), 0);
  for (int k = 0; k < n_shards; ++k) {
    // The checksums were verified when each shard was written or reused; the receipts are enough here.
    auto receipt = read_receipt(k, /*verify_files=*/false);
    if (!receipt) fail("{}: shard {} is missing or incomplete ({})", dir_.string(), k, receipt_name(k));
    if (receipt->at("first_image").get<int64_t>() != images)
      fail("{}: shard {} starts at input {}, expected {}", dir_.string(), k, receipt->at("first_image").get<int64_t>(),
           images);
    auto counts = receipt->at("per_class").get<std::vector<int64_t>>();
    for (size_t c = 0; c < per_class.size() && c < counts.size(); ++c) per_class[c] += counts[c];
    for (const auto& s : receipt->at("skipped")) skipped.push_back(s);
    shards.push_back({{"features", receipt->at("features")},
                      {"index", receipt->at("index")},
                      {"features_sha256", receipt->at("features_sha256")},
                      {"index_sha256", receipt->at("index_sha256")},
                      {"first_row", rows},
                      {"rows", receipt->at("rows")},
                      {"first_image", receipt->at("first_image")},
                      {"images", receipt->at("images")},
                      {"rank", receipt->value("rank", 0)},
                      {"host", receipt->value("host", "")}});
    rows += receipt->at("rows").get<int64_t>();
    images += receipt->at("images").get<int64_t>();
  }
  if (rows == 0 && !allow_empty)
    throw EmptyFeatureSet(fmt::format("{}: no rows in {} shards", dir_.string(), n_shards),
                          static_cast<int64_t>(skipped.size()));
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
  return manifest;
}

void write_feature_set(const fs::path& dir, const FeatureSet& set, int64_t shard_rows) {
  if (static_cast<int64_t>(set.features.size()) != set.rows * set.dim || static_cast<int64_t>(set.labels.size()) != set.rows ||
      static_cast<int64_t>(set.paths.size()) != set.rows)
    fail("{}: inconsistent feature set ({} rows x {} dims, {} values, {} labels, {} paths)", dir.string(), set.rows,
         set.dim, set.features.size(), set.labels.size(), set.paths.size());
  FeatureShardWriter writer(dir, set.featurizer, set.dim, set.class_names);
  writer.begin(/*fresh=*/true);
  if (shard_rows <= 0) shard_rows = std::max<int64_t>(set.rows, 1);
  // Without the original input positions, the skipped images are counted as inputs of the first shard (before
  // its rows) and every row's input position follows from that.
  const auto n_skipped = static_cast<int64_t>(set.skipped.size());
  int shard = 0;
  for (int64_t first = 0; first < set.rows || shard == 0; first += shard_rows, ++shard) {
    FeatureShard content;
    content.rows = std::min(shard_rows, set.rows - first);
    content.first_image = shard == 0 ? 0 : first + n_skipped;
    content.features = set.features.data() + first * set.dim;
    content.labels = set.labels.data() + first;
    content.paths = set.paths.data() + first;
    content.images = content.rows;
    std::vector<int64_t> positions(static_cast<size_t>(content.rows));
    for (int64_t i = 0; i < content.rows; ++i) positions[static_cast<size_t>(i)] = first + n_skipped + i;
    content.image_index = positions.data();
    if (shard == 0) {
      content.skipped = set.skipped;
      content.images += n_skipped;
    }
    writer.write_shard(shard, content);
  }
  writer.finish(shard);
}

namespace {

// Reads one shard described by a manifest entry, verifying checksums, shape and index lines, appending to set.
void read_shard_into(const fs::path& dir, const fs::path& manifest_path, const json& shard, int version,
                     FeatureSet& set) {
  const auto features_path = dir / shard.at("features").get<std::string>();
  const auto index_path = dir / shard.at("index").get<std::string>();
  const auto first_row = shard.at("first_row").get<int64_t>();
  const auto rows = shard.at("rows").get<int64_t>();
  if (rows < 0) fail("{}: shard {} has {} rows", manifest_path.string(), features_path.filename().string(), rows);
  if (sha256_file_hex(features_path) != shard.at("features_sha256").get<std::string>())
    fail("{}: checksum does not match the manifest (file changed or damaged)", features_path.string());
  if (sha256_file_hex(index_path) != shard.at("index_sha256").get<std::string>())
    fail("{}: checksum does not match the manifest (file changed or damaged)", index_path.string());
  const NpyArray array = read_npy(features_path);
  if (array.dtype != NpyDtype::float32) fail("{}: features must be float32", features_path.string());
  if (array.shape != std::vector<int64_t>{rows, set.dim})
    fail("{}: shape ({}) does not match the manifest ({}, {})", features_path.string(), fmt::join(array.shape, ", "),
         rows, set.dim);
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
    if (version == 1 && entry.at("row").get<int64_t>() != first_row + i)
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

}  // namespace

FeatureManifest read_feature_manifest(const fs::path& dir) {
  const auto manifest_path = dir / kManifest;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("{}: no such features folder", dir.string());
  if (!fs::exists(manifest_path, ec))
    fail("{}: no manifest.json: the feature set is incomplete (interrupted? the same command resumes it) or this "
         "is not a features folder",
         dir.string());
  FeatureManifest m;
  m.json = parse_json_file(manifest_path);
  try {
    if (m.json.at("format").get<std::string>() != kFormat)
      fail("{}: not an xfer feature manifest (format '{}')", manifest_path.string(), m.json.at("format").dump());
    const int version = m.json.at("format_version").get<int>();
    if (version != 1 && version != kFeatureFormatVersion)
      fail("{}: feature format version {} is not supported (this xfer reads versions 1 and {})",
           manifest_path.string(), version, kFeatureFormatVersion);
    m.dim = m.json.at("dim").get<int64_t>();
    m.rows = m.json.at("rows").get<int64_t>();
    m.class_names = m.json.at("class_names").get<std::vector<std::string>>();
    m.featurizer = m.json.at("featurizer");
    m.skipped = skipped_from_json(m.json.at("skipped"));
    if (m.dim <= 0 || m.rows < 0) fail("{}: invalid dim {} or rows {}", manifest_path.string(), m.dim, m.rows);
    int64_t expected_first = 0;
    for (const auto& shard : m.json.at("shards")) {
      if (shard.at("first_row").get<int64_t>() != expected_first)
        fail("{}: shard {} starts at row {}, expected {}", manifest_path.string(),
             shard.at("features").get<std::string>(), shard.at("first_row").get<int64_t>(), expected_first);
      expected_first += shard.at("rows").get<int64_t>();
    }
    if (expected_first != m.rows)
      fail("{}: the shards hold {} rows, the manifest says {}", manifest_path.string(), expected_first, m.rows);
  } catch (const json::exception& e) {
    fail("{}: invalid manifest ({})", manifest_path.string(), e.what());
  }
  return m;
}

FeatureSet read_feature_shard(const fs::path& dir, const FeatureManifest& manifest, int shard) {
  FeatureSet set;
  set.dim = manifest.dim;
  set.class_names = manifest.class_names;
  set.featurizer = manifest.featurizer;
  try {
    read_shard_into(dir, dir / kManifest, manifest.json.at("shards").at(static_cast<size_t>(shard)),
                    manifest.json.at("format_version").get<int>(), set);
  } catch (const json::exception& e) {
    fail("{}: invalid manifest ({})", (dir / kManifest).string(), e.what());
  }
  set.rows = static_cast<int64_t>(set.labels.size());
  return set;
}

FeatureSet read_feature_set(const fs::path& dir) {
  const auto manifest = read_feature_manifest(dir);
  FeatureSet set;
  set.dim = manifest.dim;
  set.rows = manifest.rows;
  set.class_names = manifest.class_names;
  set.featurizer = manifest.featurizer;
  set.skipped = manifest.skipped;
  set.features.reserve(static_cast<size_t>(set.rows * set.dim));
  const int version = manifest.json.at("format_version").get<int>();
  try {
    for (const auto& shard : manifest.json.at("shards")) read_shard_into(dir, dir / kManifest, shard, version, set);
  } catch (const json::exception& e) {
    fail("{}: invalid manifest ({})", (dir / kManifest).string(), e.what());
  }
  if (static_cast<int64_t>(set.labels.size()) != set.rows)
    fail("{}: the shards hold {} rows, the manifest says {}", (dir / kManifest).string(), set.labels.size(), set.rows);
  return set;
}

}  // namespace xfer::data
