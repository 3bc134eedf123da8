#pragma once
// From a decoded image to the float tensor a model takes (see preprocessing.h for the settings):
//   1. colour: channels 1 -> luma (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B, as PIL's convert("L"));
//      channels 3 -> RGB (a grey image is replicated into R, G and B);
//   2. resize to width x height with OpenCV (cv::resize: bilinear = INTER_LINEAR, area = INTER_AREA,
//      nearest = INTER_NEAREST), in the image's own sample type (8 or 16 bit), skipped when the size matches;
//   3. to float on the 0..255 scale (16-bit samples / 257, so 16-bit precision survives to this point);
//   4. normalisation (none, tf, caffe, torch) and layout (nchw or nhwc).
#include "image/decode.h"
#include "image/preprocessing.h"

namespace xfer::image {

// Writes p.values_per_image() floats to out. Layout nchw: out[(c * height + y) * width + x];
// nhwc: out[(y * width + x) * channels + c]. Channel order is RGB except for caffe normalisation (BGR).
// Throws Error if p is not usable (size <= 0, channels not 1 or 3).
void preprocess(const DecodedImage& image, const Preprocessing& p, float* out);

// Decode options that let a JPEG be decoded at a reduced DCT scale that is still at least p's size.
DecodeOptions decode_options_for(const Preprocessing& p, int64_t max_pixels = kDefaultMaxPixels);

}  // namespace xfer::image
