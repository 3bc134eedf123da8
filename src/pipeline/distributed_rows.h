#pragma once
// Training across ranks: each rank trains on the rows it holds, and the objective's sums go through allreduce, so
// which rank holds which row does not matter. The rows of the parts a rank computed in this run stay where they
// are (no feature crosses the network twice). The parts reused from an earlier run are shared out among the
// ranks: when every rank sees the feature folder (a shared mount: the same manifest, byte for byte), each reads
// its own; otherwise rank 0 reads them and sends each to its rank. No rank holds more than its share plus a part.
#include <filesystem>
#include <vector>

#include "data/feature_set.h"
#include "dist/communicator.h"
#include "featurize/part_queue.h"

namespace xfer::pipeline {

// Collective. kept: the parts this rank computed in this run (featurize::PartJobOptions::keep_rows). Returns this
// rank's rows (features and labels, no paths) in part order, the class names, dim and featuriser; rank 0
// also gets the skipped list. A rank may end with no rows (more ranks than parts); training allows that.
// allow_direct_reads = false makes rank 0 send every reused part (for tests of that path).
data::FeatureSet training_rows(dist::Communicator& comm, const std::filesystem::path& dir,
                               std::vector<featurize::KeptPart> kept, bool allow_direct_reads = true);

}  // namespace xfer::pipeline
