// Where every activation lives: in-place concats and the arena layout of a Plan.
#include <algorithm>
#include <optional>
#include <set>

#include "nn/plan.h"
#include "nn/plan/channel_views.h"
#include "nn/plan/runtime.h"

namespace xfer::nn {

using dnnl::memory;
using tag = memory::format_tag;

namespace {

// The slot whose arena buffer holds `s`: through views (alias_device) and in-place parts (inside).
int storage_of(const Plan& plan, int s) {
  for (;;) {
    const Slot& slot = plan.slots[s];
    if (slot.alias_device >= 0) s = slot.alias_device;
    else if (slot.inside >= 0) s = slot.inside;
    else return s;
  }
}

// Bytes [first, second) of `root`'s buffer that slot `s` covers, when `s` is `root` or a chain of views of it;
// nullopt otherwise.
std::optional<std::pair<size_t, size_t>> range_in(const Plan& plan, int s, int root) {
  size_t offset = 0;
  const size_t size = plan.slots[s].desc.get_size();
  for (int at = s;; at = plan.slots[at].alias_device) {
    if (at == root) return std::make_pair(offset, offset + size);
    if (plan.slots[at].alias_device < 0) return std::nullopt;
    offset += plan.slots[at].alias_offset;
  }
}

// A concat at batch 1 whose first input is a view of the start of a buffer of the output's layout and size (ShuffleNet:
// the first half of the shuffled channels beside the branch computed from the second half): the output takes over
// that buffer and the other inputs are written into it at their places, over bytes nothing reads any more by then.
// No copy at all where a reorder of the first input would be.
// The concat step writes nothing: its pieces are already in `dst`'s buffer.
void make_in_place(Step& step, int dst) {
  step.kind = Step::Kind::in_place;
  step.prim = dnnl::primitive();
  step.args.clear();
  step.outputs = {dst};
}

bool take_over_first_input(Plan& plan, const Step& step, int dst, const std::vector<int>& srcs,
                           const std::map<int, int>& producer) {
  const Slot& first = plan.slots[srcs[0]];
  // `whole`: the buffer seen as the output (the shuffle's 4-D view of its 5-D output); `root`: the buffer itself.
  const int whole = first.alias_device;
  if (srcs.size() < 2 || whole < 0 || first.alias_offset != 0) return false;
  int root = whole;
  while (plan.slots[root].alias_device >= 0) {
    if (plan.slots[root].alias_offset != 0) return false;
    root = plan.slots[root].alias_device;
  }
  const Slot& buffer = plan.slots[root];
  const memory::desc& out = plan.slots[dst].desc;
  if (!buffer.device || buffer.constant || buffer.alias_host >= 0 || buffer.inside >= 0 ||
      plan.slots[whole].desc != out || buffer.desc.get_size() != out.get_size() || plan.slots[dst].inside >= 0)
    return false;
  const memory::dims dims = out.dims();
  if (dims.size() != 4 || dims[0] != 1) return false;
  int64_t block = 0;
  for (const auto& [layout, b] : contiguous_layouts(4))
    if (is_layout(out, layout) && is_layout(first.desc, layout)) block = b;
  if (block == 0) return false;
  const tag layout = block == 16 ? tag::aBcd16b : block == 8 ? tag::aBcd8b : tag::abcd;
  const size_t per_channel = out.get_size() / static_cast<size_t>(dims[1]);  // bytes of one channel (H x W)
  int64_t position = first.desc.dims()[1];
  std::vector<std::pair<int, size_t>> pieces;  // slot, byte offset in the buffer
  for (size_t i = 1; i < srcs.size(); ++i) {
    const Slot& piece = plan.slots[srcs[i]];
    auto made = producer.find(srcs[i]);
    if (!piece.device || piece.constant || piece.alias_host >= 0 || piece.alias_device >= 0 || piece.inside >= 0 ||
        made == producer.end() || !is_layout(piece.desc, layout) || piece.desc.data_type() != out.data_type() ||
        position % block || piece.desc.dims()[1] % block)
      return false;
    for (const auto& [s, offset] : pieces) if (s == srcs[i]) return false;
    const size_t offset = static_cast<size_t>(position) * per_channel, end = offset + piece.desc.get_size();
    // Nothing reads the bytes it overwrites from the step that writes them on (the concat itself aside).
    for (size_t j = static_cast<size_t>(made->second); j < plan.steps.size(); ++j) {
      if (&plan.steps[j] == &step) continue;
      auto overlaps = [&](int s) {
        auto r = range_in(plan, s, root);
        return r && r->first < end && offset < r->second;
      };
      for (const auto& [arg, s] : plan.steps[j].args)
        if (s != srcs[i] && overlaps(s)) return false;
      for (int s : plan.steps[j].inputs)
        if (s >= 0 && s != srcs[i] && plan.slots[s].device && overlaps(s)) return false;
    }
    pieces.emplace_back(srcs[i], offset);
    position += piece.desc.dims()[1];
  }
  if (position != dims[1]) return false;
  for (const auto& [s, offset] : pieces) {
    plan.slots[s].inside = root;
    plan.slots[s].inside_offset = offset;
  }
  plan.slots[dst].alias_device = whole;
  plan.slots[dst].alias_offset = 0;
  return true;
}

// A concat whose pieces are strided runs of its output (along W of one image, or along any later axis with a batch
// above 1: Swin's shifted-window roll, Slice + Slice + Concat per axis) when every piece is a reorder's output that
// only the concat reads (a Slice's copy): each reorder is remade to write its piece straight into the output,
// through the output's strides, so the concat's own copy goes. `readers`: device slot -> the steps that read it.
bool write_pieces_through_strides(Plan& plan, int dst, const std::vector<int>& srcs, int64_t axis,
                                  const std::map<int, int>& producer, const std::map<int, std::set<size_t>>& readers,
                                  size_t concat_step) {
  const memory::desc& out = plan.slots[dst].desc;
  const memory::dims out_dims = out.dims();
  std::vector<memory::desc> parts;
  std::vector<dnnl::primitive> writers;
  std::set<int> seen;
  int64_t position = 0;
  for (int s : srcs) {
    const Slot& piece = plan.slots[s];
    auto made = producer.find(s);
    auto read = readers.find(s);
    if (!seen.insert(s).second || !piece.device || piece.constant || piece.alias_host >= 0 || piece.alias_device >= 0 ||
        piece.inside >= 0 || made == producer.end() || read == readers.end() ||
        read->second != std::set<size_t>{concat_step} || piece.desc.data_type() != out.data_type())
      return false;
    const Step& writer = plan.steps[made->second];
    if (!writer.prim || writer.prim.get_kind() != dnnl::primitive::kind::reorder) return false;
    int from = -1;
    for (const auto& [arg, slot] : writer.args) if (arg == DNNL_ARG_FROM) from = slot;
    if (from < 0) return false;
    const memory::dims dims = piece.desc.dims();
    memory::dims offsets(out_dims.size(), 0);
    offsets[axis] = position;
    position += dims[axis];
    try {
      parts.push_back(out.submemory_desc(dims, offsets));
      writers.push_back(dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), plan.slots[from].desc, cpu_engine(),
                                                                    parts.back())));
    } catch (const dnnl::error&) {  // a piece cut inside a block of the output's layout, or no reorder for it
      return false;
    }
  }
  if (position != out_dims[axis]) return false;
  for (size_t i = 0; i < srcs.size(); ++i) {
    plan.steps[producer.at(srcs[i])].prim = writers[i];
    Slot& piece = plan.slots[srcs[i]];
    piece.desc = parts[i];  // the output's strides, its offset in the output included
    piece.inside = dst;
    piece.inside_offset = 0;
  }
  return true;
}

}  // namespace

void place_concats_in_place(Plan& plan) {
  std::map<int, int> producer;  // device slot -> the step that writes it
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& step = plan.steps[i];
    if (step.kind != Step::Kind::primitive && step.kind != Step::Kind::reorder) continue;
    for (const auto& [arg, s] : step.args)
      if (arg == DNNL_ARG_DST || arg == DNNL_ARG_TO) producer[s] = static_cast<int>(i);
  }
  std::map<int, std::set<size_t>> readers;  // device slot -> the steps that read it
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    for (const auto& [arg, s] : plan.steps[i].args)
      if (arg != DNNL_ARG_DST && arg != DNNL_ARG_TO) readers[s].insert(i);
    for (int s : plan.steps[i].inputs) if (s >= 0) readers[s].insert(i);
  }
  // Outputs of concats already made in place (their pieces are written by producers) and those pieces, in order.
  std::map<int, std::vector<int>> assembled;
  for (size_t at = 0; at < plan.steps.size(); ++at) {
    Step& step = plan.steps[at];
    if (step.kind != Step::Kind::primitive || !step.node || step.node->op_type != "Concat") continue;
    int dst = -1;
    std::vector<int> srcs;
    for (const auto& [arg, s] : step.args) {
      if (arg == DNNL_ARG_DST) dst = s;
      else if (arg >= DNNL_ARG_MULTIPLE_SRC) srcs.push_back(s);
    }
    if (dst < 0 || srcs.empty()) continue;
    const memory::desc& out = plan.slots[dst].desc;
    const memory::dims out_dims = out.dims();
    const auto rank = static_cast<int64_t>(out_dims.size());
    int64_t axis = step.node->attr_int("axis", 1);
    if (axis < 0) axis += rank;
    if (rank < 2 || rank > 5 || axis < 0 || axis >= rank || plan.slots[dst].alias_device >= 0 || plan.slots[dst].alias_host >= 0)
      continue;
    if (axis == 1 && take_over_first_input(plan, step, dst, srcs, producer)) {
      make_in_place(step, dst);
      continue;
    }
    // The pieces are contiguous runs of the output when every dimension before the axis is 1 (batch 1 and a
    // channel concat, or Swin's concats along H or W of one image).
    bool leading_ones = true;
    for (int64_t d = 0; d < axis; ++d) leading_ones = leading_ones && out_dims[d] == 1;
    if (!leading_ones) {
      if (write_pieces_through_strides(plan, dst, srcs, axis, producer, readers, at)) make_in_place(step, dst);
      continue;
    }
    const std::vector<int> inputs = srcs;
    // A DenseNet block: every layer concatenates all the block's earlier outputs again, so concat k's inputs are
    // concat k-1's plus one. The earlier concat, already assembled from the same leading pieces, becomes the first
    // piece of this one: every concat of the block is a prefix of the last one's buffer and no layer copies.
    int prefix = -1;  // the earlier concat with the most leading pieces in common
    for (const auto& [earlier, pieces] : assembled)
      if (pieces.size() < inputs.size() && std::equal(pieces.begin(), pieces.end(), inputs.begin()) &&
          (prefix < 0 || pieces.size() > assembled.at(prefix).size()))
        prefix = earlier;
    if (prefix >= 0) {
      srcs = {prefix};
      srcs.insert(srcs.end(), inputs.begin() + static_cast<std::ptrdiff_t>(assembled.at(prefix).size()), inputs.end());
    }
    int64_t inner = 1;  // elements per index along the axis
    for (int64_t d = axis + 1; d < rank; ++d) inner *= out_dims[d];
    const size_t element_bytes = out.get_size() / static_cast<size_t>(inner * out_dims[axis]);
    bool ok = false;
    for (const auto& [layout, block] : contiguous_layouts(out_dims.size())) {
      // Channel blocks keep a piece contiguous only for a concat along the channels.
      if (!is_layout(out, layout) || (block > 1 && axis != 1) || out_dims[axis] % block) continue;
      ok = true;
      std::set<int> seen;
      for (int s : srcs) {
        const Slot& piece = plan.slots[s];
        ok = ok && seen.insert(s).second && piece.device && !piece.constant && piece.alias_host < 0 &&
             piece.alias_device < 0 && piece.inside < 0 && (producer.count(s) || assembled.count(s)) &&
             is_layout(piece.desc, layout) && piece.desc.dims()[axis] % block == 0 &&
             piece.desc.data_type() == out.data_type();
      }
      if (ok) break;
    }
    if (!ok) continue;
    int64_t position = 0;
    for (int s : srcs) {
      plan.slots[s].inside = dst;
      plan.slots[s].inside_offset = static_cast<size_t>(position * inner) * element_bytes;
      position += plan.slots[s].desc.dims()[axis];
    }
    make_in_place(step, dst);
    assembled[dst] = inputs;
  }
}

size_t arena_offset(const Plan& plan, int slot) {
  size_t offset = 0;
  while (plan.slots[slot].inside >= 0) {
    offset += plan.slots[slot].inside_offset;
    slot = plan.slots[slot].inside;
  }
  return offset + plan.slots[slot].offset;
}

void plan_memory(Plan& plan) {
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& step = plan.steps[i];
    const int at = static_cast<int>(i);
    auto touch = [&](int s) {  // a view or a piece keeps the whole buffer alive
      Slot& root = plan.slots[storage_of(plan, s)];
      if (root.def < 0) root.def = at;
      root.last = std::max(root.last, at);
    };
    for (int s : step.outputs) if (s >= 0 && plan.slots[s].device) touch(s);
    for (int s : step.inputs) if (s >= 0 && plan.slots[s].device) touch(s);
    for (const auto& [arg, a] : step.args) touch(a);
  }
  std::vector<int> order;
  for (size_t i = 0; i < plan.slots.size(); ++i) {
    const Slot& s = plan.slots[i];
    if (s.device && s.alias_host < 0 && s.alias_device < 0 && s.inside < 0) order.push_back(static_cast<int>(i));
  }
  auto size_of = [&](int i) { return (plan.slots[i].desc.get_size() + 63) / 64 * 64; };
  std::sort(order.begin(), order.end(), [&](int a, int b) { return size_of(a) > size_of(b); });
  std::vector<int> placed;
  size_t total = 0;
  for (int i : order) {
    Slot& s = plan.slots[i];
    if (s.def < 0) s.def = 0;
    if (s.last < s.def) s.last = static_cast<int>(plan.steps.size());  // written, never read: keep to the end
    std::vector<std::pair<size_t, size_t>> busy;
    for (int j : placed) {
      const Slot& o = plan.slots[j];
      if (o.def <= s.last && s.def <= o.last) busy.emplace_back(o.offset, o.offset + size_of(j));
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (auto [b, e] : busy) {
      if (offset + size_of(i) <= b) break;
      offset = std::max(offset, e);
    }
    s.offset = offset;
    total = std::max(total, offset + size_of(i));
    placed.push_back(i);
  }
  plan.arena_bytes = std::max<size_t>(total, 64);
}

}  // namespace xfer::nn
