#pragma once
// Memory descriptors that see a 4-D [N, C, H, W] buffer's channels as two dimensions, without moving a byte
// (internal to nn/plan/). They make ShuffleNet's channel shuffle (Reshape to [N, G, C/G, H, W], Transpose of the
// two channel dimensions, Reshape back) one oneDNN reorder from the input's buffer, in whatever channel-blocked
// layout its producer wrote, straight into a blocked output that the next convolutions read as it is.
//
// Both work for layouts with at most one inner block, on the channels (plain nchw, nhwc, nChw8c, nChw16c: block 1,
// 1, 8, 16) and no padding; otherwise they return nothing and the caller takes the plain route.
#include <oneapi/dnnl/dnnl.hpp>

#include <optional>
#include <vector>

namespace xfer::nn {

// The layouts in which, at batch 1, channels [c0, c0 + n) of a tensor are one contiguous run of bytes starting at
// c0 x (the product of the dimensions after the channel): plain for every rank, and for rank 4 channel blocks of
// `block` when n and c0 are whole blocks. What a concat written in place and a slice seen as a view both need.
struct ContiguousLayout {
  dnnl::memory::format_tag layout;
  int64_t block;  // channel block, 1 for plain
};
std::vector<ContiguousLayout> contiguous_layouts(size_t rank);

// `d` is exactly the dense `layout` of its dims and type.
bool is_layout(const dnnl::memory::desc& d, dnnl::memory::format_tag layout);

// `d` has no inner blocks: every element at its own stride (plain, any permutation, or a strided view).
bool is_unblocked(const dnnl::memory::desc& d);

// The channel block of a 4-D blocked desc without padding or offset (1 for unblocked layouts); 0 for any other.
int64_t channel_block(const dnnl::memory::desc& d);

// [N, G, C/G, H, W] where channel c = g * (C/G) + j: the channels split into `groups` consecutive runs.
// Needs C/G to be whole channel blocks.
std::optional<dnnl::memory::desc> split_channels(const dnnl::memory::desc& d, int64_t groups);

// [N, C/G, G, H, W] where channel c = j * G + g: the channels interleaved `groups` by `groups`. Needs the channel
// block to be whole multiples of G.
std::optional<dnnl::memory::desc> interleaved_channels(const dnnl::memory::desc& d, int64_t groups);

}  // namespace xfer::nn
