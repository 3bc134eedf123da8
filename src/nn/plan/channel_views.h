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

namespace xfer::nn {

// The channel block of a 4-D blocked desc without padding or offset (1 for unblocked layouts); 0 for any other.
int64_t channel_block(const dnnl::memory::desc& d);

// [N, G, C/G, H, W] where channel c = g * (C/G) + j: the channels split into `groups` consecutive runs.
// Needs C/G to be whole channel blocks.
std::optional<dnnl::memory::desc> split_channels(const dnnl::memory::desc& d, int64_t groups);

// [N, C/G, G, H, W] where channel c = j * G + g: the channels interleaved `groups` by `groups`. Needs the channel
// block to be whole multiples of G.
std::optional<dnnl::memory::desc> interleaved_channels(const dnnl::memory::desc& d, int64_t groups);

}  // namespace xfer::nn
