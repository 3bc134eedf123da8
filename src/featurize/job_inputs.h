#pragma once
// What every rank of a featurisation job must share before the part queue starts: the same sorted input list
// and an equivalent featuriser. Rank 0 lists the inputs and sends the list to every rank (so a host listing the
// folder a moment later, or in another order, cannot disagree on what part k is). Each rank builds its own
// featuriser from the same model file, and checks with rank 0 that the model's weights, the layer and the
// preprocessing are the same, and, unless the data is staged, that it sees the same files. A host whose copy
// of the data set or the model differs stops the job before any work, named with the reason.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/image_folder.h"
#include "dist/communicator.h"
#include "featurize/featurizer.h"

namespace xfer::featurize {

struct JobInputs {
  std::string root;                      // the data folder (for messages and reports)
  std::vector<std::string> class_names;  // labels index these
  std::vector<data::Sample> samples;     // sorted, as data/ lists them
};

// A short, stable digest of the list (class names, paths, labels).
std::string listing_digest(const JobInputs& inputs);

// Collective: rank 0 runs list(); every rank returns its result. If rank 0 fails, every rank throws the same
// error (dist::JobMismatch with rank 0's message).
JobInputs share_inputs(dist::Communicator& comm, const std::function<JobInputs()>& list);

// Collective: every rank runs make() and, when check_listing is set, lists the inputs itself with list() and
// compares with the shared list. Throws the same error on every rank if any rank failed or differs.
std::unique_ptr<Featurizer> open_featurizer_everywhere(dist::Communicator& comm,
                                                       const std::function<std::unique_ptr<Featurizer>()>& make,
                                                       const JobInputs& inputs, bool check_listing,
                                                       const std::function<JobInputs()>& list);

}  // namespace xfer::featurize
