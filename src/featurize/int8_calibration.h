#pragma once
// int8 jobs: the activation ranges every rank's featuriser uses, measured once, by rank 0, in fp32 on a fixed-seed
// sample of the job's own images, and sent to every rank (so all ranks, and later evaluate and predict through the
// pipeline file, quantise with exactly the same scales).
#include <filesystem>
#include <vector>

#include "dist/communicator.h"
#include "featurize/featurizer.h"
#include "featurize/job_inputs.h"

namespace xfer::featurize {

// `count` images of the list, drawn with a fixed seed (the same list gives the same sample), in list order.
std::vector<std::filesystem::path> calibration_sample(const JobInputs& inputs, int count);

// Collective. For an int8 spec without a calibration: rank 0 calibrates on calibration_sample(inputs,
// spec.calibration_images) with spec.calibration_method and every rank's spec receives it. Otherwise nothing.
void calibrate_everywhere(dist::Communicator& comm, FeaturizerSpec& spec, const JobInputs& inputs);

}  // namespace xfer::featurize
