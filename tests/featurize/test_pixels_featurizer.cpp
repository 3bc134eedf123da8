// The pixels featuriser's spec strings and the runner's handling of bad images, on files written here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "featurize/featurize_samples.h"
#include "featurize/featurizer.h"
#include "image/encode.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace xfer::featurize;

namespace {

FeaturizerSpec spec(const std::string& model) {
  FeaturizerSpec s;
  s.model = model;
  return s;
}

TEST(PixelsFeaturizer, SpecStrings) {
  auto plain = make_featurizer(spec("pixels"));
  EXPECT_EQ(plain->feature_dim(), 28 * 28);
  EXPECT_EQ(plain->preprocessing().channels, 1);
  EXPECT_EQ(plain->preprocessing().normalization, xfer::image::Normalization::none);
  EXPECT_EQ(plain->describe().at("model"), "pixels");
  auto sized = make_featurizer(spec("pixels:32x16"));
  EXPECT_EQ(sized->feature_dim(), 32 * 16);
  EXPECT_EQ(sized->preprocessing().width, 32);
  EXPECT_EQ(sized->preprocessing().height, 16);
  auto rgb = make_featurizer(spec("pixels:8x4:rgb"));
  EXPECT_EQ(rgb->feature_dim(), 8 * 4 * 3);
  EXPECT_EQ(make_featurizer(spec("pixels:28x28:gray"))->describe().at("model"), "pixels");
  for (const char* bad : {"pixels:", "pixels:0x4", "pixels:4", "pixels:4x4:cmyk", "pixels:-1x4"})
    EXPECT_THROW(make_featurizer(spec(bad)), xfer::UsageError) << bad;
  auto with_layer = spec("pixels");
  with_layer.layer = "mixed10";
  EXPECT_THROW(make_featurizer(with_layer), xfer::UsageError);
}

TEST(FeaturizeSamples, SkipsBadImagesKeepsOrderAndIsThreadIndependent) {
  const fs::path dir = fs::temp_directory_path() / ("xfer-featurize-samples-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<xfer::data::Sample> samples;
  for (int i = 0; i < 9; ++i) {
    const auto path = dir / (std::to_string(i) + ".png");
    if (i % 4 == 1) {
      std::ofstream(path) << "broken";  // not an image
    } else {
      std::vector<uint8_t> pixels(4 * 4);
      for (size_t k = 0; k < pixels.size(); ++k) pixels[k] = static_cast<uint8_t>(i * 16 + static_cast<int>(k));
      xfer::image::write_png(path, pixels.data(), 4, 4, 1);
    }
    samples.push_back({path, i % 2});
  }
  auto featurizer = make_featurizer(spec("pixels:4x4"));
  FeaturizeOptions one;
  one.threads = 1;
  one.batch = 1;
  one.progress = false;
  FeaturizeOptions two;
  two.threads = 2;
  two.batch = 4;
  two.progress = false;
  const auto a = featurize_samples(samples, {"even", "odd"}, *featurizer, one);
  const auto b = featurize_samples(samples, {"even", "odd"}, *featurizer, two);
  ASSERT_EQ(a.rows, 7);  // images 1 and 5 are broken
  ASSERT_EQ(a.skipped.size(), 2u);
  EXPECT_EQ(a.skipped[0].path, dir / "1.png");
  EXPECT_EQ(a.skipped[1].path, dir / "5.png");
  EXPECT_NE(a.skipped[0].reason.find("not a JPEG or PNG"), std::string::npos) << a.skipped[0].reason;
  EXPECT_EQ(a.features, b.features);
  EXPECT_EQ(a.paths, b.paths);
  EXPECT_EQ(a.labels, b.labels);
  // Row r holds image r's own pixels, as written (i * 16 + k), in input order.
  const std::vector<int> kept = {0, 2, 3, 4, 6, 7, 8};
  for (size_t r = 0; r < kept.size(); ++r) {
    EXPECT_EQ(a.paths[r], (dir / (std::to_string(kept[r]) + ".png")).string());
    for (int k = 0; k < 16; ++k) EXPECT_EQ(a.features[r * 16 + static_cast<size_t>(k)], kept[r] * 16 + k);
  }
  fs::remove_all(dir);
}

}  // namespace
