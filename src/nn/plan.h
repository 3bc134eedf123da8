#pragma once
// The execution plan a Model builds per input shape (internal to the engine): value slots, the steps that
// produce them, and where each device buffer lives in the one activation arena a Run allocates.
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <string>
#include <vector>

#include "nn/graph.h"

namespace xfer::nn {

// A value in one of two forms: host (a plain C-order Tensor of any type: inputs, constants, reference-kernel
// results) or device (a oneDNN memory, float32 or bf16, in whatever layout the producing primitive chose).
struct Slot {
  bool device = false;
  std::vector<int64_t> shape;
  DataType type = DataType::float32;
  // host
  bool constant = false;
  Tensor value;  // the constant
  // device
  dnnl::memory::desc desc;
  float scale = 1.0f;     // an s8/u8 value's real value per step (int8 plans); float values 1
  int alias_host = -1;    // memory is the host slot's bytes (same plain float32 layout): no copy
  int alias_device = -1;  // memory is another device slot's buffer seen through a different desc ...
  size_t alias_offset = 0;  // ... starting this many bytes in (a channel slice that is a contiguous run)
  int inside = -1;        // the buffer is part of that device slot's buffer (a concat written in place) ...
  size_t inside_offset = 0;  // ... starting this many bytes in
  size_t offset = 0;      // in the arena (buffers of their own only)
  int def = -1, last = -1;
};

struct Step {
  // in_place: a concat whose inputs were written straight into its output; nothing left to do at run time.
  enum class Kind { reference, primitive, to_device, to_host, reorder, in_place } kind = Kind::reference;
  const Node* node = nullptr;
  std::vector<int> inputs, outputs;  // slot ids; -1 is an omitted optional input
  dnnl::primitive prim;
  std::vector<std::pair<int, int>> args;  // oneDNN argument -> slot
  std::vector<std::pair<int, dnnl::memory>> const_args;
};

struct Plan {
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::map<std::string, int> input_slots;
  std::map<std::string, int> constant_slots;  // initializer name -> its slot
  std::vector<int> output_slots;
  size_t arena_bytes = 0;
};

// Turns concats whose inputs are contiguous pieces of the output (every dimension before the axis 1: batch-1
// channel concats in one plain or nChw16c layout with channel counts in whole blocks, or plain concats along a later
// axis of one image) into in_place steps: each input's buffer becomes part of the output's. A concat whose leading
// inputs are an earlier in-place concat's pieces (DenseNet's blocks) takes that concat's buffer as its first piece.
// Pieces that are strided runs of the output (along W of one image, or with a batch above 1) are written in place
// only when each is a reorder's output read by the concat alone (Swin's roll: Slice + Slice + Concat): the reorder is
// remade to write through the output's strides. Other producers' oneDNN 2.x kernels write only dense buffers, so
// there the copy stays.
void place_concats_in_place(Plan& plan);

// Byte offset of a device slot's storage in the arena, following in-place parts and views to their buffer.
size_t arena_offset(const Plan& plan, int slot);

// Greedy first-fit offsets by decreasing size among buffers whose lifetimes overlap; sets plan.arena_bytes.
void plan_memory(Plan& plan);

}  // namespace xfer::nn
