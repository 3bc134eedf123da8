#pragma once
// The report's optional sections, from what evaluate has at hand: the training's cross-validation record (in the
// pipeline file) and the test set's mistakes (thumbnails made here, so report/ stays free of image code).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/html_report.h"

namespace xfer::pipeline {

// The CV curve of training.cross_validation; nullopt when the pipeline was trained with a fixed reg.
std::optional<report::CvCurve> cv_curve_of(const nlohmann::json& training);

// Caps that keep the report one small file: thumbnails of at most per_class images per true class and max_images
// in all, their JPEG bytes at most max_bytes (base64 adds a third), the longer side at most thumbnail_side pixels.
struct GalleryLimits {
  int per_class = 8;
  int max_images = 120;
  size_t max_bytes = 1 << 20;
  int thumbnail_side = 128;
};

// paths[i], labels[i] (true class) and probs (n x K row-major) of the evaluated rows. Mistakes are rows whose
// argmax is not the label; per class the most confident first (the highest probability of the wrong class). The
// caps are filled round-robin over the classes, so no class's mistakes crowd out another's. A file that cannot be
// read again gets no thumbnail and says why.
report::MistakeGallery collect_mistakes(const std::vector<std::string>& paths, const std::vector<int>& labels,
                                        const std::vector<double>& probs, const std::vector<std::string>& class_names,
                                        const GalleryLimits& limits = {});

}  // namespace xfer::pipeline
