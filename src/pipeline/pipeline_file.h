#pragma once
// The persisted pipeline: one JSON file holding everything `predict` needs — the featuriser spec and the
// model file's SHA-256, the preprocessing, the class names and the classifier — with a format version.
// The CNN weights are referenced, not copied (they are 100 MB); the checksum makes a swapped or edited
// model file a clear error instead of silently wrong predictions.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "featurize/featurizer.h"
#include "image/preprocessing.h"
#include "ml/logistic_regression.h"

namespace xfer::pipeline {

inline constexpr int kPipelineFormatVersion = 1;

struct Pipeline {
  featurize::FeaturizerSpec featurizer_spec;
  nlohmann::json featurizer;  // Featurizer::describe() at training time (model path, sha256, layer, dim)
  image::Preprocessing preprocessing;
  std::vector<std::string> class_names;
  ml::LogisticRegressionModel classifier;
  nlohmann::json training;    // provenance: data, options, counts, time, xfer version
};

void save_pipeline(const std::filesystem::path& path, const Pipeline& pipeline);
// Throws Error naming the file for a missing file, bad JSON, unknown format version or missing fields.
Pipeline load_pipeline(const std::filesystem::path& path);
// The file's text, checked to be a valid pipeline (the same errors as load_pipeline).
std::string read_pipeline_text(const std::filesystem::path& path);
// The same from the file's text (rank 0 read it and sent it to the other ranks); path names it in errors.
Pipeline parse_pipeline(const std::string& text, const std::filesystem::path& path);

// Rebuilds the featuriser the pipeline was trained with and refuses one that does not match: a model file
// whose SHA-256, feature size or preprocessing differs from what the pipeline recorded.
std::unique_ptr<featurize::Featurizer> open_featurizer(const Pipeline& pipeline,
                                                        const std::filesystem::path& pipeline_path,
                                                        int threads);

}  // namespace xfer::pipeline
