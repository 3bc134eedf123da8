#pragma once
// A plan's steps run one by one with a clock around each (internal to nn/; `Run::set_profile`). The untimed loop
// in Run::forward stays as it was: profiling costs nothing when it is off.
#include <cstdint>

#include "nn/model.h"
#include "nn/plan.h"
#include "nn/plan/runtime.h"

namespace xfer::nn {

void execute_profiled(const Plan& plan, RunState& st, int64_t opset, StepProfile& profile);

}  // namespace xfer::nn
