#include "featurize/job_inputs.h"

#include <fmt/format.h>

#include "dist/agreement.h"
#include "dist/wire.h"
#include "util/sha256.h"

namespace xfer::featurize {
namespace {

using nlohmann::json;

dist::Bytes encode_inputs(const JobInputs& inputs) {
  json paths = json::array();
  std::vector<int32_t> labels;
  for (const auto& s : inputs.samples) {
    paths.push_back(s.path.string());
    labels.push_back(s.label);
  }
  return dist::encode({{"root", inputs.root},
                       {"class_names", inputs.class_names},
                       {"paths", paths},
                       {"labels", dist::to_binary(std::span<const int32_t>(labels))}});
}

JobInputs decode_inputs(const dist::Bytes& bytes) {
  const auto j = dist::decode(bytes);
  JobInputs inputs;
  inputs.root = j.at("root").get<std::string>();
  inputs.class_names = j.at("class_names").get<std::vector<std::string>>();
  const auto labels = dist::from_binary<int32_t>(j.at("labels"));
  const auto& paths = j.at("paths");
  if (paths.size() != labels.size()) fail("input list: {} paths and {} labels", paths.size(), labels.size());
  inputs.samples.reserve(paths.size());
  for (size_t i = 0; i < labels.size(); ++i) inputs.samples.push_back({paths[i].get<std::string>(), labels[i]});
  return inputs;
}

std::string short_digest(const std::string& text) { return sha256_hex(text).substr(0, 12); }

}  // namespace

std::string listing_digest(const JobInputs& inputs) {
  std::string text;
  for (const auto& c : inputs.class_names) text += c + '\n';
  text += '\0';
  for (const auto& s : inputs.samples) text += s.path.string() + '\t' + std::to_string(s.label) + '\n';
  return sha256_hex(text);
}

JobInputs share_inputs(dist::Communicator& comm, const std::function<JobInputs()>& list) {
  if (comm.size() == 1) return list();
  return decode_inputs(dist::broadcast_from_root(comm, "listing the inputs", [&] { return encode_inputs(list()); }));
}

std::unique_ptr<Featurizer> open_featurizer_everywhere(dist::Communicator& comm,
                                                       const std::function<std::unique_ptr<Featurizer>()>& make,
                                                       const JobInputs& inputs, bool check_listing,
                                                       const std::function<JobInputs()>& list) {
  std::unique_ptr<Featurizer> featurizer;
  dist::agree(comm, "the featuriser and the inputs", [&] {
    featurizer = make();
    auto d = featurizer->describe();
    d.erase("path");  // the model may sit at another path on another host; its weights' sha256 must agree
    std::string identity = fmt::format("featuriser {} ({}, layer '{}', {} features)", short_digest(d.dump()),
                                       d.value("model", "?"), d.value("layer", ""), featurizer->feature_dim());
    if (check_listing && comm.size() > 1) {
      const auto mine = comm.rank() == 0 ? inputs : list();
      identity += fmt::format(" and {} images in {} classes under {} (listing {})", mine.samples.size(),
                              mine.class_names.size(), mine.root, short_digest(listing_digest(mine)));
    }
    return identity;
  });
  return featurizer;
}

}  // namespace xfer::featurize
