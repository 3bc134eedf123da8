#pragma once
// Builds a Model's plan for one set of input shapes (internal to nn/). The generic part (nn/plan/builder.cpp)
// walks the graph: constants and shape arithmetic fold, each node goes to a oneDNN primitive when its family
// (one file each: convolution, elementwise, attention, shape) has one for the case, else to its reference kernel.
// A family's planner returns false, or throws dnnl::error, to leave a node to the reference kernel.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/plan.h"
#include "nn/plan/runtime.h"

namespace xfer::nn {

struct SliceWindow;  // nn/reference_ops.h

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// A weight reordered into the layout a primitive chose, and the plain layout it was read from.
struct CachedWeight {
  memory::desc source;  // dims and tag of the weight Tensor's bytes as the primitive reads them
  memory::desc desc;
  memory mem;
  // A blocked fp32 copy holds every value, so the plain weight can be rebuilt from it by a reorder
  // (Winograd's transformed weights and bf16 copies cannot).
  bool reversible() const { return desc.data_type() == dt::f32 && desc.data.format_kind == dnnl_blocked; }
};
using WeightCopies = std::map<std::string, std::vector<CachedWeight>>;

// Initializer `name` has a copy that can rebuild its plain bytes, which may then be released.
inline bool has_reversible_copy(const WeightCopies& copies, const std::string& name) {
  auto it = copies.find(name);
  return it != copies.end() &&
         std::any_of(it->second.begin(), it->second.end(), [](const CachedWeight& c) { return c.reversible(); });
}

// Builds a plan while running it once on real inputs: shapes are concrete, constants fold as they appear.
class Builder {
 public:
  // `release_weight` (optional) drops the plain bytes of the named initializer: called as soon as the last node
  // reading a float weight is planned, when only primitives read it and a reordered fp32 copy (which can rebuild it)
  // holds it, so a model never holds most of its weights twice while its first plan is built.
  Builder(const Graph& g, const CompileOptions& opt, Plan& plan, RunState& st, WeightCopies& weight_cache,
          std::function<void(const std::string&)> release_weight = {})
      : g_(g), opt_(opt), plan_(plan), st_(st), weight_cache_(weight_cache),
        release_weight_(std::move(release_weight)),
        compute_dt_(opt.precision == Precision::bf16 ? dt::bf16 : dt::f32) {}

  static bool is_int8(dt type) { return type == dt::s8 || type == dt::u8; }

  std::vector<Tensor> build(const std::map<std::string, Tensor>& inputs);

 private:
  const Graph& g_;
  const CompileOptions& opt_;
  Plan& plan_;
  RunState& st_;
  WeightCopies& weight_cache_;
  std::function<void(const std::string&)> release_weight_;
  dt compute_dt_;
  std::map<std::string, int> unplanned_readers_;  // initializer -> readers not yet planned
  std::set<int> read_on_host_;                      // slots a reference kernel or a host alias reads at run time
  std::map<std::string, int> host_, device_;
  std::map<int, std::vector<int>> converted_;  // device slot -> its reordered copies
  std::map<std::string, Tensor> prepared_, prepared_bias_;  // weights rearranged once per node (inner products)
  std::map<std::string, std::vector<const Node*>> readers_;  // value name -> the nodes that read it
  // A 5-D device slot whose bytes are a 4-D [N, C, H, W] buffer in this desc (a channel shuffle's transpose
  // wrote them): the Reshape back to 4-D is a view of them.
  std::map<int, memory::desc> merged_views_;

  // ---- slots, steps and the forms of a value (nn/plan/builder.cpp) ----
  int new_slot(bool device, std::vector<int64_t> shape, DataType type);
  int new_device_slot(const memory::desc& desc, const std::vector<int64_t>& shape);
  // Host-side steps run while building (reference kernels need real shapes); oneDNN steps only get their
  // primitives here and first run on the arena, so building never touches a second copy of every activation.
  void add_step(Step step);
  int host_form(const std::string& name);
  // The value on the device as a float (f32 or bf16): an int8 value is dequantised (once). Every planner that does
  // not know int8 reads its inputs through this.
  int device_form(const std::string& name);
  // The value on the device as it was produced: float, or int8 with its slot's scale (int8 planners).
  int device_primary(const std::string& name);
  // The value in exactly `desc` (layout and data type) and, for an int8 desc, `scale`; reordered (quantised,
  // dequantised or requantised) once per distinct form.
  int device_as(const std::string& name, const memory::desc& desc, float scale = 1.0f);
  // A reorder of device slot `slot` into `desc`, run every time (device_as caches by value name instead).
  int reordered(int slot, const memory::desc& desc);
  // A constant tensor reordered once into `desc` (cached across plans: weights do not change).
  // An int8 (s8) tensor's source is read as s8, anything else as f32.
  memory weights_as(const std::string& key, const Tensor& t, const memory::dims& dims, tag plain, const memory::desc& desc);
  void add_node(const Node& node);
  void plan_node(const Node& node);
  // The plain bytes of initializer `name` released when nothing that runs needs them any more (see the constructor).
  void release_if_absorbed(const std::string& name);
  void fold(const Node& node);
  void add_reference(const Node& node);
  void add_primitive(const Node& node, dnnl::primitive prim, std::vector<std::pair<int, int>> args,
                     std::vector<std::pair<int, memory>> const_args, int out_slot);
  // The node on oneDNN through its family's planner; false leaves it to the reference kernel.
  bool try_device(const Node& node);

  // ---- the op families: each plans the ops it lists on oneDNN primitives ----
  using Planner = bool (Builder::*)(const Node&);
  struct PlannerEntry {
    const char* op_type;
    Planner plan;
  };
  static std::vector<PlannerEntry> convolution_planners();
  static std::vector<PlannerEntry> elementwise_planners();
  static std::vector<PlannerEntry> attention_planners();
  static std::vector<PlannerEntry> shape_planners();
  static std::vector<PlannerEntry> quantized_planners();

  // int8 convolution, pooling and concat (nn/plan/quantized.cpp); false leaves the node to the fp32 planners.
  const ValueRange* range_of(const std::string& name) const;
  bool conv_int8(const Node& node);
  bool pool_int8(const Node& node);
  bool concat_int8(const Node& node);
  // convolution, pooling, normalisation (nn/plan/convolution.cpp)
  // The node's fused activation ("_activation") appended to `ops`; false when there is none.
  bool append_activation(const Node& node, dnnl::post_ops& ops) const;
  // A node's fused tail as oneDNN post-ops: a binary add reading `residual` (a conv's residual, a pool's moved
  // bias), then the activation.
  dnnl::primitive_attr activation_attr(const Node& node, const memory::desc* residual = nullptr) const;
  bool conv(const Node& node);
  bool pool(const Node& node);
  // A BatchNormalization the passes could not fold into a conv (DenseNet's concat -> BN -> ReLU -> conv): oneDNN's
  // inference batch norm in the layout its input has, instead of two reorders around the reference kernel.
  bool batch_norm(const Node& node);
  bool lrn(const Node& node);
  // ReduceMean over H and W of a 4-D value: a global average pool.
  bool spatial_mean(const Node& node);
  // elementwise (nn/plan/elementwise.cpp)
  bool binary(const Node& node);
  bool binary_by_expanded_constant(const Node& node, dnnl::algorithm alg, const std::string& a, const std::string& b,
                                   const std::vector<int64_t>& bs);
  bool eltwise(const Node& node);
  // dense and attention (nn/plan/attention.cpp)
  // Gemm with constant B (and C) or MatMul by a constant 2-D matrix: a oneDNN inner product.
  bool inner_product(const Node& node);
  bool matmul(const Node& node);
  bool softmax(const Node& node);
  bool layer_norm(const Node& node);
  int plain_padded(const std::string& name, size_t rank, dt type);
  // data movement (nn/plan/shape.cpp)
  bool concat(const Node& node);
  // Transpose as a oneDNN reorder from the input's memory viewed with permuted axes (Keras' NHWC <-> NCHW).
  bool transpose(const Node& node);
  bool view(const Node& node);
  bool slice(const Node& node);
  bool stepped_slice(const Node& node, const SliceWindow& w);
  bool gather(const Node& node);
  bool pad(const Node& node);
  // The value on the device in its plain row-major layout (reordered once if it has another); -1 above rank 6.
  int plain_form(const std::string& name);
  // The primitive desc `make` gives for device slot `src` (`name`'s form), or, when that has only oneDNN's ref:
  // kernel (a strided view such as a gathered or transposed part does for softmax and eltwise), for the value's
  // plain copy, setting `src` to it. The caller decides whether a ref: kernel that remains will do.
  template <typename MakePd>
  auto with_plain_fallback(const std::string& name, int& src, MakePd make) {
    auto pd = make(plan_.slots[src].desc);
    if (is_reference_impl(pd))
      if (const int plain = plain_form(name); plain >= 0 && plain != src) {
        src = plain;
        pd = make(plan_.slots[src].desc);
      }
    return pd;
  }
  // A view of plain device slot `slot` (or of its bytes) with another shape: no step, no copy.
  int new_view(int slot, const std::vector<int64_t>& shape);
  // A view of device slot `slot`'s bytes, from `offset` bytes in, through `desc`: no step, no copy.
  int new_view(int slot, const memory::desc& desc, const std::vector<int64_t>& shape, size_t offset = 0);
  // Reshape of a device value that keeps its channel-blocked layout: the channels split in two dimensions (the
  // first half of a channel shuffle), or a shuffle's transposed output seen as the 4-D tensor it is. -1 when not.
  int blocked_view(const Node& node, const std::vector<int64_t>& ys);
  // Every reader of `value` is an `op` node (and the value is not a graph output).
  bool only_read_by(const std::string& value, const char* op) const;

  // ---- what is known about a value while building ----
  bool known(const std::string& name) const { return host_.count(name) || device_.count(name); }
  bool is_constant(const std::string& name) const {
    auto it = host_.find(name);
    return it != host_.end() && plan_.slots[it->second].constant;
  }
  std::vector<int64_t> shape_of(const std::string& name) const {
    auto it = host_.find(name);
    if (it != host_.end()) return plan_.slots[it->second].constant ? plan_.slots[it->second].value.shape : st_.host[it->second].shape;
    return plan_.slots[device_.at(name)].shape;
  }
  DataType type_of(const std::string& name) const {
    auto it = host_.find(name);
    if (it != host_.end()) return plan_.slots[it->second].constant ? plan_.slots[it->second].value.type : st_.host[it->second].type;
    return DataType::float32;
  }
  // By value (shares the bytes): slot storage moves when slots are added.
  Tensor constant(const std::string& name) const { return plan_.slots[host_.at(name)].value; }
  bool float_input(const std::string& name) const { return !name.empty() && type_of(name) == DataType::float32; }
};

}  // namespace xfer::nn
