#pragma once
// Before ranks share work they must agree on what the work is: every rank opened the same data set, built the
// same featuriser from the same model bytes, parsed the same options. agree() runs each rank's own setup and
// compares what each rank says the job is with rank 0's. If a rank failed or differs, every rank throws the
// same JobMismatch, naming each rank and host that failed or differs and why, so the job stops before any work
// instead of computing something that mixes two jobs.
#include <functional>
#include <string>

#include "dist/communicator.h"

namespace xfer::dist {

// The same error on every rank; main prints it once (rank 0) and every rank exits with its code.
class JobMismatch : public ExitStatus {
 public:
  using ExitStatus::ExitStatus;
};

// setup() returns this rank's description of the job (compared byte for byte with rank 0's) or throws. `what`
// names the step in messages ("opening the data set"). Collective.
void agree(Communicator& comm, const std::string& what, const std::function<std::string()>& setup);

// Rank 0 computes a value (or throws); every rank receives it. If rank 0 failed, every rank throws the same
// JobMismatch with rank 0's message. Collective.
Bytes broadcast_from_root(Communicator& comm, const std::string& what, const std::function<Bytes()>& compute);

}  // namespace xfer::dist
