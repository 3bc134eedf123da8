#include "nn/plan/channel_views.h"

#include "nn/plan/runtime.h"

namespace xfer::nn {

using dnnl::memory;
using tag = memory::format_tag;

std::vector<ContiguousLayout> contiguous_layouts(size_t rank) {
  if (rank == 4) return {{tag::abcd, 1}, {tag::aBcd16b, 16}, {tag::aBcd8b, 8}};
  return {{plain_tag(rank), 1}};
}

bool is_layout(const memory::desc& d, tag layout) {
  return d == memory::desc(d.dims(), d.data_type(), layout);
}

bool is_unblocked(const memory::desc& d) {
  return d.data.format_kind == dnnl_blocked && d.data.format_desc.blocking.inner_nblks == 0;
}

int64_t channel_block(const memory::desc& d) {
  const dnnl_memory_desc_t& m = d.data;
  if (m.ndims != 4 || m.format_kind != dnnl_blocked || m.offset0 != 0 || m.extra.flags != 0) return 0;
  for (int i = 0; i < 4; ++i)
    if (m.padded_dims[i] != m.dims[i] || m.padded_offsets[i] != 0) return 0;
  const dnnl_blocking_desc_t& b = m.format_desc.blocking;
  if (b.inner_nblks == 0) return 1;
  if (b.inner_nblks == 1 && b.inner_idxs[0] == 1) return b.inner_blks[0];
  return 0;
}

namespace {

// A 5-D desc of `d`'s bytes: [N, a, b, H, W] in place of [N, C, H, W]; strides of N, H and W kept, the two
// channel dimensions' strides and inner blocks given.
memory::desc channels_as_two(const memory::desc& d, int64_t a, int64_t b, dnnl_dim_t stride_a, dnnl_dim_t stride_b) {
  const dnnl_memory_desc_t& m = d.data;
  dnnl_memory_desc_t r = m;
  r.ndims = 5;
  const dnnl_dim_t dims[5] = {m.dims[0], a, b, m.dims[2], m.dims[3]};
  const dnnl_dim_t* s = m.format_desc.blocking.strides;
  const dnnl_dim_t strides[5] = {s[0], stride_a, stride_b, s[2], s[3]};
  for (int i = 0; i < DNNL_MAX_NDIMS; ++i) {
    r.dims[i] = r.padded_dims[i] = i < 5 ? dims[i] : 0;
    r.padded_offsets[i] = 0;
    r.format_desc.blocking.strides[i] = i < 5 ? strides[i] : 0;
    r.format_desc.blocking.inner_blks[i] = r.format_desc.blocking.inner_idxs[i] = 0;
  }
  r.format_desc.blocking.inner_nblks = 0;
  return memory::desc(r);
}

}  // namespace

std::optional<memory::desc> split_channels(const memory::desc& d, int64_t groups) {
  const int64_t block = channel_block(d);
  if (block == 0 || groups < 1) return std::nullopt;
  const int64_t C = d.data.dims[1];
  if (C % groups || (C / groups) % block) return std::nullopt;
  const int64_t per_group = C / groups;
  const dnnl_dim_t channel_stride = d.data.format_desc.blocking.strides[1];  // of one block of channels
  memory::desc r = channels_as_two(d, groups, per_group, (per_group / block) * channel_stride, channel_stride);
  if (block > 1) {
    r.data.format_desc.blocking.inner_nblks = 1;
    r.data.format_desc.blocking.inner_blks[0] = block;
    r.data.format_desc.blocking.inner_idxs[0] = 2;
  }
  return r;
}

std::optional<memory::desc> interleaved_channels(const memory::desc& d, int64_t groups) {
  const int64_t block = channel_block(d);
  if (block == 0 || groups < 1) return std::nullopt;
  const int64_t C = d.data.dims[1];
  if (C % groups) return std::nullopt;
  const dnnl_dim_t channel_stride = d.data.format_desc.blocking.strides[1];
  if (block == 1) return channels_as_two(d, C / groups, groups, groups * channel_stride, channel_stride);
  if (block % groups) return std::nullopt;
  // Inside a block of `block` channels c = j * G + g: j's low part (block / G values) then g, the fastest.
  // g's outer index is always 0; its stride is never used.
  memory::desc r = channels_as_two(d, C / groups, groups, channel_stride, channel_stride);
  auto& b = r.data.format_desc.blocking;
  if (block == groups) {
    b.inner_nblks = 1;
    b.inner_blks[0] = groups;
    b.inner_idxs[0] = 2;
  } else {
    b.inner_nblks = 2;
    b.inner_blks[0] = block / groups;
    b.inner_idxs[0] = 1;
    b.inner_blks[1] = groups;
    b.inner_idxs[1] = 2;
  }
  return r;
}

}  // namespace xfer::nn
