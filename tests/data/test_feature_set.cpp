// Feature folders: write/read round trip over several shards, resumable shard receipts, and the validation
// that refuses incomplete or damaged folders (numpy's reading of the same files is checked in
// tests/featurize/test_featurize_cli.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "data/feature_set.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace xfer::data;

namespace {

FeatureSet sample_set(int64_t rows, int64_t dim) {
  FeatureSet set;
  set.rows = rows;
  set.dim = dim;
  set.class_names = {"cat", "dog", "emu"};
  set.featurizer = {{"kind", "test"}, {"feature_dim", dim}};
  for (int64_t i = 0; i < rows * dim; ++i) set.features.push_back(static_cast<float>(i) * 0.25f - 3.0f);
  for (int64_t r = 0; r < rows; ++r) {
    set.labels.push_back(static_cast<int>(r % 3));
    set.paths.push_back("/data/img, \"" + std::to_string(r) + "\".png");  // commas and quotes survive
  }
  set.skipped = {{"/data/bad.jpg", "truncated JPEG file"}};
  return set;
}

std::string error_of(const fs::path& dir) {
  try {
    read_feature_set(dir);
  } catch (const xfer::Error& e) {
    return e.what();
  }
  return "";
}

class FeatureSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("xfer-features-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FeatureSetTest, RoundTripOverShards) {
  const auto set = sample_set(10, 4);
  write_feature_set(dir_, set, /*shard_rows=*/4);  // shards of 4, 4, 2 rows
  EXPECT_TRUE(fs::exists(dir_ / "features-00002.npy"));
  EXPECT_FALSE(fs::exists(dir_ / "features-00003.npy"));
  const auto back = read_feature_set(dir_);
  EXPECT_EQ(back.rows, 10);
  EXPECT_EQ(back.dim, 4);
  EXPECT_EQ(back.features, set.features);
  EXPECT_EQ(back.labels, set.labels);
  EXPECT_EQ(back.paths, set.paths);
  EXPECT_EQ(back.class_names, set.class_names);
  EXPECT_EQ(back.featurizer, set.featurizer);
  ASSERT_EQ(back.skipped.size(), 1u);
  EXPECT_EQ(back.skipped[0].path, "/data/bad.jpg");
  EXPECT_EQ(back.skipped[0].reason, "truncated JPEG file");
  // Rewriting with fewer shards removes the old ones.
  write_feature_set(dir_, sample_set(3, 4));
  EXPECT_FALSE(fs::exists(dir_ / "features-00001.npy"));
  EXPECT_EQ(read_feature_set(dir_).rows, 3);
}

TEST_F(FeatureSetTest, IncompleteOrDamagedFoldersAreRefused) {
  write_feature_set(dir_, sample_set(6, 2), 3);
  // Damage a shard: its checksum no longer matches.
  {
    std::fstream f(dir_ / "features-00001.npy", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  auto error = error_of(dir_);
  EXPECT_NE(error.find("features-00001.npy"), std::string::npos) << error;
  EXPECT_NE(error.find("checksum"), std::string::npos) << error;
  // No manifest: incomplete.
  write_feature_set(dir_, sample_set(6, 2), 3);
  fs::remove(dir_ / "manifest.json");
  error = error_of(dir_);
  EXPECT_NE(error.find("incomplete"), std::string::npos) << error;
  EXPECT_NE(error_of(dir_ / "absent").find("no such features folder"), std::string::npos);
}

TEST_F(FeatureSetTest, ShardWriterResumesFromReceipts) {
  const auto set = sample_set(4, 3);
  FeatureShardWriter writer(dir_, set.featurizer, set.dim, set.class_names);
  writer.begin(/*fresh=*/true);
  FeatureShard first;
  first.first_image = 0;
  first.identity = "job-a";
  first.rows = 2;
  first.images = 2;
  first.features = set.features.data();
  first.labels = set.labels.data();
  first.paths = set.paths.data();
  writer.write_shard(0, first);
  EXPECT_TRUE(writer.complete_shard(0, "job-a"));
  EXPECT_FALSE(writer.complete_shard(0, "job-b"));  // another job's inputs: not reused
  EXPECT_FALSE(writer.complete_shard(1, "job-a"));
  EXPECT_THROW(writer.finish(2), xfer::Error);  // shard 1 missing: no manifest
  EXPECT_FALSE(fs::exists(dir_ / "manifest.json"));

  // A new writer (a resumed job) keeps shard 0 and writes only shard 1.
  FeatureShardWriter resumed(dir_, set.featurizer, set.dim, set.class_names);
  resumed.begin(/*fresh=*/false);
  EXPECT_TRUE(resumed.complete_shard(0, "job-a"));
  FeatureShard second = first;
  second.first_image = 2;
  second.features = set.features.data() + 2 * set.dim;
  second.labels = set.labels.data() + 2;
  second.paths = set.paths.data() + 2;
  resumed.write_shard(1, second);
  resumed.finish(2);
  const auto back = read_feature_set(dir_);
  EXPECT_EQ(back.features, set.features);
  EXPECT_EQ(back.paths, set.paths);

  // A different featuriser does not accept the old receipts.
  FeatureShardWriter other(dir_, nlohmann::json{{"kind", "other"}}, set.dim, set.class_names);
  EXPECT_FALSE(other.complete_shard(0, "job-a"));
}

TEST_F(FeatureSetTest, ShardCutShortOnDiskIsNotComplete) {
  const auto set = sample_set(4, 3);
  FeatureShardWriter writer(dir_, set.featurizer, set.dim, set.class_names);
  writer.begin(/*fresh=*/true);
  FeatureShard shard;
  shard.rows = 4;
  shard.images = 4;
  shard.features = set.features.data();
  shard.labels = set.labels.data();
  shard.paths = set.paths.data();
  writer.write_shard(0, shard);
  ASSERT_TRUE(writer.complete_shard(0));
  fs::resize_file(dir_ / FeatureShardWriter::features_name(0), fs::file_size(dir_ / FeatureShardWriter::features_name(0)) - 7);
  EXPECT_FALSE(writer.complete_shard(0));  // the receipt exists, the checksum does not match
}

TEST_F(FeatureSetTest, ShardsInAnyOrderKeepInputOrderAndRecordWhoComputedThem) {
  const auto set = sample_set(6, 2);
  FeatureShardWriter writer(dir_, set.featurizer, set.dim, set.class_names);
  writer.begin(/*fresh=*/true);
  // Inputs 0..3 hold rows 0..2 (input 1 was bad), inputs 4..7 hold rows 3..5: shard 1 is written first.
  const int64_t positions0[] = {0, 2, 3};
  const int64_t positions1[] = {4, 5, 6};
  FeatureShard later;
  later.first_image = 4;
  later.images = 4;  // input 7 bad too
  later.rows = 3;
  later.features = set.features.data() + 3 * set.dim;
  later.labels = set.labels.data() + 3;
  later.paths = set.paths.data() + 3;
  later.image_index = positions1;
  later.skipped = {{"/data/bad7.png", "not an image"}};
  later.rank = 2;
  later.host = "node-b";
  writer.write_shard(1, later);
  FeatureShard earlier = later;
  earlier.first_image = 0;
  earlier.features = set.features.data();
  earlier.labels = set.labels.data();
  earlier.paths = set.paths.data();
  earlier.image_index = positions0;
  earlier.skipped = {{"/data/bad1.png", "truncated"}};
  earlier.rank = 0;
  earlier.host = "node-a";
  writer.write_shard(0, earlier);
  const auto manifest = writer.finish(2);
  EXPECT_EQ(manifest["shards"][1]["first_row"], 3);
  EXPECT_EQ(manifest["shards"][1]["rank"], 2);
  EXPECT_EQ(manifest["shards"][1]["host"], "node-b");
  EXPECT_EQ(manifest["counts"]["images"], 8);
  const auto back = read_feature_set(dir_);
  EXPECT_EQ(back.features, set.features);
  EXPECT_EQ(back.paths, set.paths);
  ASSERT_EQ(back.skipped.size(), 2u);
  EXPECT_EQ(back.skipped[0].path, "/data/bad1.png");  // in input order

  // An older, larger job's shard 2 in the same folder is removed, not left to confuse readers.
  fs::copy_file(dir_ / FeatureShardWriter::features_name(1), dir_ / FeatureShardWriter::features_name(2));
  writer.remove_shards_from(2);
  EXPECT_FALSE(fs::exists(dir_ / FeatureShardWriter::features_name(2)));
  EXPECT_TRUE(fs::exists(dir_ / FeatureShardWriter::features_name(1)));
}

}  // namespace
