#include "pipeline/report_sections.h"

#include <algorithm>

#include <fmt/format.h>

#include "image/decode.h"
#include "image/thumbnail.h"
#include "ml/cross_validation.h"
#include "util/base64.h"

namespace xfer::pipeline {

std::optional<report::CvCurve> cv_curve_of(const nlohmann::json& training) {
  if (!training.is_object() || !training.contains("cross_validation")) return std::nullopt;
  const auto cv = ml::CrossValidationResult::from_json(training.at("cross_validation"));
  report::CvCurve curve;
  curve.metric = cv.metric;
  curve.lower_is_better = cv.lower_is_better();
  curve.folds = cv.folds;
  std::vector<double> alphas;
  for (size_t i = 0; i < cv.grid.size(); ++i) {
    const auto& p = cv.grid[i];
    auto it = std::find(alphas.begin(), alphas.end(), p.elastic_net);
    if (it == alphas.end()) {
      alphas.push_back(p.elastic_net);
      curve.series.push_back({});
      it = alphas.end() - 1;
    }
    const auto s = static_cast<size_t>(it - alphas.begin());
    auto& series = curve.series[s];
    if (i == cv.best) {
      curve.chosen_series = s;
      curve.chosen_point = series.reg.size();
    }
    if (!p.evaluated()) continue;
    series.reg.push_back(p.reg);
    series.mean.push_back(p.mean);
    series.std.push_back(p.std);
    series.fold_scores.push_back(p.fold_scores);
  }
  if (alphas.size() > 1)
    for (size_t s = 0; s < alphas.size(); ++s) curve.series[s].label = fmt::format("elastic_net {:g}", alphas[s]);
  return curve;
}

report::MistakeGallery collect_mistakes(const std::vector<std::string>& paths, const std::vector<int>& labels,
                                        const std::vector<double>& probs, const std::vector<std::string>& class_names,
                                        const GalleryLimits& limits) {
  const size_t k = class_names.size();
  report::MistakeGallery gallery;
  gallery.limits = fmt::format("at most {} per class and {} in all, {} KB of JPEG thumbnails (longer side {} px)",
                               limits.per_class, limits.max_images, limits.max_bytes / 1024, limits.thumbnail_side);
  gallery.groups.resize(k);
  std::vector<std::vector<size_t>> wrong(k);  // rows per true class, most confident mistake first
  for (size_t c = 0; c < k; ++c) gallery.groups[c].true_class = class_names[c];
  for (size_t i = 0; i < labels.size(); ++i) {
    const double* p = probs.data() + i * k;
    const auto predicted = static_cast<size_t>(std::max_element(p, p + k) - p);
    const auto truth = static_cast<size_t>(labels[i]);
    ++gallery.groups[truth].total;
    if (predicted != truth) wrong[truth].push_back(i);
  }
  auto confidence = [&](size_t row) { return *std::max_element(probs.begin() + row * k, probs.begin() + (row + 1) * k); };
  for (size_t c = 0; c < k; ++c) {
    gallery.groups[c].wrong = static_cast<int64_t>(wrong[c].size());
    std::stable_sort(wrong[c].begin(), wrong[c].end(), [&](size_t a, size_t b) { return confidence(a) > confidence(b); });
  }

  size_t bytes = 0;
  int shown = 0;
  bool full = false;
  for (int rank = 0; rank < limits.per_class && !full; ++rank) {
    for (size_t c = 0; c < k && !full; ++c) {
      if (static_cast<size_t>(rank) >= wrong[c].size()) continue;
      if (shown >= limits.max_images) {
        full = true;
        break;
      }
      const size_t row = wrong[c][static_cast<size_t>(rank)];
      const double* p = probs.data() + row * k;
      const auto predicted = static_cast<size_t>(std::max_element(p, p + k) - p);
      report::Mistake m;
      m.path = paths[row];
      m.predicted = class_names[predicted];
      m.probability = p[predicted];
      m.true_probability = p[c];
      try {
        const auto thumbnail = image::jpeg_thumbnail(m.path, limits.thumbnail_side);
        if (bytes + thumbnail.jpeg.size() > limits.max_bytes) {
          full = true;
          break;
        }
        bytes += thumbnail.jpeg.size();
        m.jpeg_base64 = base64_encode(thumbnail.jpeg);
        m.width = thumbnail.width;
        m.height = thumbnail.height;
      } catch (const image::ImageError& e) {
        m.error = e.reason();
      } catch (const Error& e) {
        m.error = e.what();
      }
      gallery.groups[c].shown.push_back(std::move(m));
      ++shown;
    }
  }
  int64_t total_wrong = 0;
  for (const auto& g : gallery.groups) total_wrong += g.wrong;
  gallery.not_shown = total_wrong - shown;
  return gallery;
}

}  // namespace xfer::pipeline
