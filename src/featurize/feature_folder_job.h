#pragma once
// A featurisation job whose output is a feature folder (data/feature_set.h): the parts of the part queue are the
// folder's shards, each committed (written under a temporary name, renamed, then its receipt) as soon as rank 0
// receives it, whichever rank computed it. A rerun of the same job reuses every shard whose receipt matches the
// featuriser, the classes and the part's own inputs, and whose files still have their checksums; the manifest is
// written last. Only rank 0 writes, so the output folder need not be shared by the hosts.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "featurize/job_inputs.h"
#include "featurize/part_queue.h"

namespace xfer::featurize {

struct FolderJobResult {
  nlohmann::json manifest;  // rank 0: the manifest written; other ranks: null
  PartRunSummary run;
};

// Collective. Throws (on rank 0) when no input could be featurised, leaving no manifest.
FolderJobResult featurize_to_folder(dist::Communicator& comm, const JobInputs& inputs, const Featurizer& featurizer,
                                    const PartJobOptions& options, const std::filesystem::path& dir);

// What makes part k of this job reusable: its inputs (paths and labels) and how the list was cut.
std::string part_identity(const JobInputs& inputs, int64_t part, int64_t part_size);

}  // namespace xfer::featurize
