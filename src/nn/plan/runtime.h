#pragma once
// The plan's run time (internal to nn/): the CPU engine, a Run's state, and how one plan step executes.
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "nn/plan.h"

namespace xfer::nn {

dnnl::engine& cpu_engine();
dnnl::memory::format_tag plain_tag(size_t rank);
dnnl::memory::dims dims_of(const std::vector<int64_t>& shape);
dnnl::memory::desc plain_desc(const std::vector<int64_t>& shape,
                              dnnl::memory::data_type type = dnnl::memory::data_type::f32);

// oneDNN dispatched this primitive to one of its naive reference implementations ("ref:any"): correct but
// tens of times slower than its jit kernels. Planners avoid them; `model bench` lists any that remain.
inline bool is_reference_impl(const dnnl::primitive_desc_base& pd) {
  const char* impl = pd.impl_info_str();
  return impl && std::string(impl).rfind("ref", 0) == 0;
}

struct FreeDeleter {
  void operator()(unsigned char* p) const { std::free(p); }
};

struct RunState {
  dnnl::stream stream{cpu_engine()};
  const Plan* bound = nullptr;
  std::shared_ptr<Plan> last;  // the plan of the last forward()
  std::unique_ptr<unsigned char, FreeDeleter> arena;
  size_t arena_size = 0;
  std::vector<dnnl::memory> memories;  // per slot (device)
  std::vector<Tensor> host;            // per slot (host)
};

// The memory of a device slot; a view (alias_device) is its root's buffer seen through the view's desc.
dnnl::memory device_memory(const Plan& plan, const RunState& st, int slot);

void execute_step(const Plan& plan, const Step& step, RunState& st, int64_t opset);

// Points the state's device memories at `plan`'s arena (allocated, and every page touched, once).
void bind(const Plan& plan, RunState& st);

}  // namespace xfer::nn
