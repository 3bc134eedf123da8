#pragma once
// The part queue: one featurisation cut into parts of part_size consecutive inputs, computed by every rank of
// the job. Rank 0 hands parts out as ranks ask for them (a slow host takes fewer parts, it does not hold the
// job back), receives each finished part and passes it to a PartSink (which commits it to disk, or scores it).
// Rank 0 works too: a worker thread of its own computes parts beside the thread that coordinates, and only the
// coordinating thread talks to the other ranks.
//
// Every rank holds the same sorted input list; a part is a range of it, so what part k means never depends on
// which rank computes it or how many ranks there are: a rerun with another rank count reuses the same parts.
// With stage_data, rank 0 reads the encoded files of a part and sends them with it, so ranks need not see the
// data folder (clusters without a shared file system).
//
// Memory: a rank holds at most two parts in flight (the one it computes and the next one, so it never waits
// for rank 0 between parts); rank 0 holds what the sink keeps.
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_folder.h"
#include "dist/communicator.h"
#include "featurize/featurize_samples.h"
#include "featurize/featurizer.h"
#include "util/job_events.h"

namespace xfer::featurize {

inline constexpr int64_t kDefaultPartSize = 256;

struct PartJobOptions {
  int64_t part_size = kDefaultPartSize;
  bool stage_data = false;
  int64_t max_staged_file_bytes = int64_t{512} << 20;  // a file bigger than this is skipped when staging
  FeaturizeOptions featurize;
  std::string label = "featurize";  // names the progress bar and the log lines
  // Each rank keeps the rows of the parts it computed (PartRunSummary::kept): training then needs no transfer of
  // features at all. Costs each rank its share of the features in memory.
  bool keep_rows = false;
};

// One finished part, as rank 0 receives it: the rows of inputs [first_image, first_image + images).
struct PartResult {
  int64_t part = 0;
  int64_t first_image = 0;
  int64_t images = 0;
  RangeFeatures rows;
  int rank = 0;
  std::string host;
  double seconds = 0;
};

// What rank 0 does with the parts.
class PartSink {
 public:
  virtual ~PartSink() = default;
  // A part that need not be computed (resume: already committed). Asked once per part before work starts.
  virtual bool already_done(int64_t /*part*/) { return false; }
  // Each computed part, in the order they finish.
  virtual void accept(PartResult&& result) = 0;
  // For the message when the job is interrupted: what was kept and how to go on.
  virtual std::string interrupted_hint(int64_t parts_done, int64_t parts) const;
};

// A part's rows as the rank that computed it keeps them.
struct KeptPart {
  int64_t part = 0;
  RangeFeatures rows;
};

struct PartRunSummary {
  int64_t parts = 0;
  int64_t parts_reused = 0;
  int64_t images_computed = 0;  // inputs of the parts computed in this run
  double seconds = 0;
  std::vector<RankReport> ranks;  // rank 0: every rank's final report; other ranks: empty
  std::vector<KeptPart> kept;     // with keep_rows: the parts this rank computed, in the order it finished them
};

int64_t part_count(int64_t images, int64_t part_size);

// Collective: every rank calls it with the same samples and an equivalent featuriser (dist::agree first); sink
// is used on rank 0 only. Returns when every part is done. Throws Interrupted after SIGINT/SIGTERM (with the
// sink's hint), and Error when the featuriser fails; a failing rank must then end the job (main aborts it).
PartRunSummary run_parts(dist::Communicator& comm, const std::vector<data::Sample>& samples,
                         const Featurizer& featurizer, const PartJobOptions& options, PartSink* sink);

}  // namespace xfer::featurize
