#include "nn/plan/profile.h"

#include <chrono>
#include <string>

namespace xfer::nn {

namespace {

const char* primitive_kind_name(dnnl::primitive::kind kind) {
  using k = dnnl::primitive::kind;
  switch (kind) {
    case k::reorder: return "reorder";
    case k::shuffle: return "shuffle";
    case k::concat: return "concat";
    case k::sum: return "sum";
    case k::convolution: return "convolution";
    case k::deconvolution: return "deconvolution";
    case k::eltwise: return "eltwise";
    case k::softmax:
    case k::softmax_v2: return "softmax";
    case k::pooling:
    case k::pooling_v2: return "pooling";
    case k::prelu: return "prelu";
    case k::lrn: return "lrn";
    case k::batch_normalization: return "batch_normalization";
    case k::layer_normalization: return "layer_normalization";
    case k::inner_product: return "inner_product";
    case k::binary: return "binary";
    case k::logsoftmax: return "logsoftmax";
    case k::matmul: return "matmul";
    case k::resampling: return "resampling";
    case k::reduction: return "reduction";
    default: return "other primitive";
  }
}

std::string step_kind(const Step& step) {
  switch (step.kind) {
    case Step::Kind::reference: return "reference kernel";
    case Step::Kind::to_device:
    case Step::Kind::to_host: return "host/device copy";
    case Step::Kind::in_place: return "in place (no work)";
    case Step::Kind::reorder:
    case Step::Kind::primitive: return primitive_kind_name(step.prim.get_kind());
  }
  return "?";
}

}  // namespace

void execute_profiled(const Plan& plan, RunState& st, int64_t opset, StepProfile& profile) {
  using clock = std::chrono::steady_clock;
  for (const auto& step : plan.steps) {
    if (step.kind == Step::Kind::in_place) continue;  // nothing runs
    const auto start = clock::now();
    execute_step(plan, step, st, opset);
    st.stream.wait();  // a CPU stream runs in order and returns when done; the wait keeps the timing honest
    const double ms = std::chrono::duration<double, std::milli>(clock::now() - start).count();
    const std::string kind_name = step_kind(step);
    StepTimes& kind = profile.by_kind[kind_name];
    kind.ms += ms;
    ++kind.steps;
    // Steps no node asked for: reorders between two primitives' layouts, values moved to or from the host.
    StepTimes& op = profile.by_op[step.node ? step.node->op_type : "(" + kind_name + ")"];
    op.ms += ms;
    ++op.steps;
  }
  ++profile.runs;
}

double StepProfile::total_ms() const {
  double sum = 0;
  for (const auto& [kind, t] : by_kind) sum += t.ms;
  return sum;
}

}  // namespace xfer::nn
