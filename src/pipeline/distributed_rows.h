#pragma once
// Training across ranks: each rank holds a contiguous share of the feature rows (rank r: rows
// [r * N / size, (r + 1) * N / size)). When every rank sees the feature folder (a shared mount: the same
// manifest, byte for byte), each reads the shards of its own share, in parallel. Otherwise rank 0 reads the folder
// one shard at a time and sends each piece to the rank that owns it, so only rank 0 needs the folder. Either way
// no rank holds more than its share plus a shard.
#include <filesystem>

#include "data/feature_set.h"
#include "dist/communicator.h"

namespace xfer::pipeline {

// Collective. Every rank gets its rows (features and labels; paths on rank 0 only), the class names, dim and
// featuriser; rank 0 also the skipped list. Throws the same error on every rank when the folder cannot be read or
// holds fewer rows than there are ranks.
// allow_direct_reads = false always sends the rows from rank 0 (for tests of that path).
data::FeatureSet load_rows_for_rank(dist::Communicator& comm, const std::filesystem::path& dir,
                                    bool allow_direct_reads = true);

// The first row of rank r's share of n rows.
int64_t first_row_of_rank(int64_t n, int rank, int size);

}  // namespace xfer::pipeline
