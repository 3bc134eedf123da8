// JPEG through TurboJPEG, PNG through libpng, EXIF orientation through libexif, the rotation through OpenCV.
#include "image/decode.h"

#include <bit>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <libexif/exif-data.h>
#include <opencv2/core.hpp>
#include <png.h>
#include <turbojpeg.h>

namespace xfer::image {
namespace {

[[noreturn]] void image_fail(const std::string& name, const std::string& reason) { throw ImageError(name, reason); }

void check_pixel_limit(const std::string& name, int64_t width, int64_t height, const DecodeOptions& options) {
  if (width <= 0 || height <= 0) image_fail(name, fmt::format("invalid image size {}x{} in the header", width, height));
  if (options.max_pixels > 0 && width * height > options.max_pixels)
    image_fail(name, fmt::format("image is {}x{} = {:.1f} megapixels, over the limit of {:.1f} megapixels", width,
                                 height, static_cast<double>(width * height) / 1e6,
                                 static_cast<double>(options.max_pixels) / 1e6));
}

// EXIF orientation 1..8 from a JPEG file's APP1 segment or from "Exif\0\0" + TIFF bytes; 1 when absent/bad.
int exif_orientation(const uint8_t* data, size_t size) {
  if (size == 0 || size > 0xffffffffu) return 1;
  ExifData* exif = exif_data_new();
  if (!exif) return 1;
  // Only the orientation matters: do not let libexif "repair" or interpret maker notes.
  exif_data_unset_option(exif, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
  exif_data_set_option(exif, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS);
  exif_data_load_data(exif, data, static_cast<unsigned int>(size));
  int orientation = 1;
  if (ExifEntry* entry = exif_data_get_entry(exif, EXIF_TAG_ORIENTATION);
      entry && entry->format == EXIF_FORMAT_SHORT && entry->components >= 1 && entry->data)
    orientation = exif_get_short(entry->data, exif_data_get_byte_order(exif));
  exif_data_unref(exif);
  return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

bool swaps_axes(int orientation) { return orientation >= 5; }

// Turns the stored image upright as the EXIF orientation tag asks (the tag says how the stored pixels must be
// transformed for display, as PIL's ImageOps.exif_transpose does).
template <typename T>
void apply_orientation(DecodedImage& image, std::vector<T>& samples, int orientation) {
  if (orientation == 1) return;
  const int type = CV_MAKETYPE(sizeof(T) == 1 ? CV_8U : CV_16U, image.channels);
  cv::Mat src(image.height, image.width, type, samples.data());
  cv::Mat dst;
  switch (orientation) {
    case 2: cv::flip(src, dst, 1); break;                             // mirror left-right
    case 3: cv::rotate(src, dst, cv::ROTATE_180); break;
    case 4: cv::flip(src, dst, 0); break;                             // mirror top-bottom
    case 5: cv::transpose(src, dst); break;                           // mirror along the main diagonal
    case 6: cv::rotate(src, dst, cv::ROTATE_90_CLOCKWISE); break;
    case 7: { cv::Mat t; cv::transpose(src, t); cv::flip(t, dst, -1); break; }  // the anti-diagonal
    case 8: cv::rotate(src, dst, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: return;
  }
  std::vector<T> out(dst.total() * static_cast<size_t>(image.channels));
  cv::Mat wrapped(dst.rows, dst.cols, type, out.data());
  dst.copyTo(wrapped);
  samples = std::move(out);
  image.width = dst.cols;
  image.height = dst.rows;
  image.exif_orientation = orientation;
}

// ---------------------------------------------------------------------------------------------------- JPEG

// One TurboJPEG decompressor per thread: creating one costs more than decoding a thumbnail.
struct TurboJpegDecompressor {
  tjhandle handle = tjInitDecompress();
  ~TurboJpegDecompressor() {
    if (handle) tjDestroy(handle);
  }
};

DecodedImage decode_jpeg(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
  thread_local TurboJpegDecompressor decompressor;
  tjhandle tj = decompressor.handle;
  if (!tj) image_fail(name, "cannot create a JPEG decompressor");
  const auto size = static_cast<unsigned long>(bytes.size());
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, bytes.data(), size, &width, &height, &subsampling, &colorspace) != 0)
    image_fail(name, fmt::format("corrupt JPEG header ({})", tjGetErrorStr2(tj)));
  check_pixel_limit(name, width, height, options);

  const int orientation = exif_orientation(bytes.data(), bytes.size());
  // The smallest DCT scale whose (upright) result is still at least the requested size: libjpeg-turbo then
  // skips most of the IDCT work, several times faster than decoding 1500x1200 and resizing it down.
  int need_w = options.min_width, need_h = options.min_height;
  if (swaps_axes(orientation)) std::swap(need_w, need_h);
  tjscalingfactor best{1, 1};
  if (need_w > 0 && need_h > 0) {
    int count = 0;
    const tjscalingfactor* factors = tjGetScalingFactors(&count);
    for (int i = 0; factors && i < count; ++i) {
      const auto f = factors[i];
      if (f.num > f.denom) continue;
      if (TJSCALED(width, f) >= need_w && TJSCALED(height, f) >= need_h &&
          TJSCALED(width, f) < TJSCALED(width, best))
        best = f;
    }
  }

  DecodedImage image;
  image.width = TJSCALED(width, best);
  image.height = TJSCALED(height, best);
  image.depth = 8;
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int pixel_format = colorspace == TJCS_GRAY ? TJPF_GRAY : cmyk ? TJPF_CMYK : TJPF_RGB;
  const int decoded_channels = tjPixelSize[pixel_format];
  std::vector<uint8_t> decoded(static_cast<size_t>(image.width) * image.height * decoded_channels);
  // TJFLAG_STOPONWARNING: libjpeg's warnings ("Premature end of JPEG file", "Corrupt JPEG data") mean missing
  // or damaged pixels; libjpeg would fill them with grey and carry on. Here they are errors.
  if (tjDecompress2(tj, bytes.data(), size, decoded.data(), image.width, 0, image.height, pixel_format,
                    TJFLAG_STOPONWARNING) != 0) {
    std::string message = tjGetErrorStr2(tj);
    if (message.find("Premature end") != std::string::npos)
      image_fail(name, fmt::format("truncated JPEG file ({})", message));
    image_fail(name, fmt::format("corrupt JPEG data ({})", message));
  }
  if (cmyk) {
    // Adobe-style (inverted) CMYK, as Photoshop writes it and as PIL and OpenCV read it.
    image.channels = 3;
    image.samples8.resize(static_cast<size_t>(image.width) * image.height * 3);
    for (size_t i = 0, n = static_cast<size_t>(image.width) * image.height; i < n; ++i) {
      const int k = decoded[i * 4 + 3];
      for (int c = 0; c < 3; ++c)
        image.samples8[i * 3 + static_cast<size_t>(c)] = static_cast<uint8_t>((decoded[i * 4 + static_cast<size_t>(c)] * k + 127) / 255);
    }
  } else {
    image.channels = decoded_channels;
    image.samples8 = std::move(decoded);
  }
  apply_orientation(image, image.samples8, orientation);
  return image;
}

// ----------------------------------------------------------------------------------------------------- PNG
// libpng reports errors by longjmp. The two functions that call setjmp hold no C++ objects with destructors,
// so jumping out of libpng skips nothing; everything owned lives in decode_png().

struct PngSource {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t position = 0;
  char message[256] = {};
};

struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
};

void png_read_from_memory(png_structp png, png_bytep out, size_t count) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->size - source->position < count) png_error(png, "unexpected end of data");
  std::memcpy(out, source->data + source->position, count);
  source->position += count;
}

void png_error_to_message(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->message, sizeof source->message, "%s", message);
  png_longjmp(png, 1);
}

// Warnings concern ancillary chunks (a bad iCCP profile, text CRCs): the pixels are intact.
void png_ignore_warning(png_structp, png_const_charp) {}

bool png_read_header(png_structp png, png_infop info, PngSource* source, PngHeader* header) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, source, png_read_from_memory);
  // Our own pixel limit (with a clearer message) replaces libpng's 1,000,000-pixel width/height limit.
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  png_read_info(png, info);
  png_get_IHDR(png, info, &header->width, &header->height, &header->bit_depth, &header->color_type,
               &header->interlace, nullptr, nullptr);
  return true;
}

bool png_read_pixels(png_structp png, png_infop info, png_bytepp rows, size_t expected_row_bytes,
                     const PngHeader* header, bool* row_bytes_ok) {
  if (setjmp(png_jmpbuf(png))) return false;
  if (header->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (header->color_type == PNG_COLOR_TYPE_GRAY && header->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (header->color_type & PNG_COLOR_MASK_ALPHA || header->color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_strip_alpha(png);
  if (header->bit_depth == 16 && std::endian::native == std::endian::little) png_set_swap(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *row_bytes_ok = png_get_rowbytes(png, info) == expected_row_bytes;
  if (!*row_bytes_ok) return true;
  png_read_image(png, rows);
  return true;
}

DecodedImage decode_png(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
  PngSource source;
  source.data = bytes.data();
  source.size = bytes.size();
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_error_to_message, png_ignore_warning);
  if (!png) image_fail(name, "cannot create a PNG reader");
  png_infop info = png_create_info_struct(png);
  struct Cleanup {
    png_structp* png;
    png_infop* info;
    ~Cleanup() { png_destroy_read_struct(png, info, nullptr); }
  } cleanup{&png, &info};
  if (!info) image_fail(name, "cannot create a PNG reader");

  PngHeader header;
  if (!png_read_header(png, info, &source, &header))
    image_fail(name, fmt::format("corrupt PNG header ({})", source.message));
  check_pixel_limit(name, header.width, header.height, options);

  int orientation = 1;
  png_uint_32 exif_size = 0;
  png_bytep exif_bytes = nullptr;
  if (png_get_eXIf_1(png, info, &exif_size, &exif_bytes) != 0 && exif_bytes && exif_size > 0) {
    // libexif wants the JPEG APP1 form: "Exif\0\0" followed by the TIFF structure the eXIf chunk holds.
    std::vector<uint8_t> app1 = {'E', 'x', 'i', 'f', 0, 0};
    app1.insert(app1.end(), exif_bytes, exif_bytes + exif_size);
    orientation = exif_orientation(app1.data(), app1.size());
  }

  DecodedImage image;
  image.width = static_cast<int>(header.width);
  image.height = static_cast<int>(header.height);
  image.channels = (header.color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
  image.depth = header.bit_depth == 16 ? 16 : 8;
  const size_t row_samples = static_cast<size_t>(image.width) * static_cast<size_t>(image.channels);
  const size_t row_bytes = row_samples * static_cast<size_t>(image.depth / 8);
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  if (image.depth == 16) {
    image.samples16.resize(row_samples * static_cast<size_t>(image.height));
    for (size_t y = 0; y < rows.size(); ++y) rows[y] = reinterpret_cast<png_bytep>(image.samples16.data() + y * row_samples);
  } else {
    image.samples8.resize(row_samples * static_cast<size_t>(image.height));
    for (size_t y = 0; y < rows.size(); ++y) rows[y] = image.samples8.data() + y * row_samples;
  }
  bool row_bytes_ok = true;
  if (!png_read_pixels(png, info, rows.data(), row_bytes, &header, &row_bytes_ok)) {
    std::string message = source.message;
    if (message.find("unexpected end of data") != std::string::npos || message.find("Not enough") != std::string::npos)
      image_fail(name, fmt::format("truncated PNG file ({})", message));
    image_fail(name, fmt::format("corrupt PNG data ({})", message));
  }
  if (!row_bytes_ok) image_fail(name, "unsupported PNG pixel layout");
  if (image.depth == 16)
    apply_orientation(image, image.samples16, orientation);
  else
    apply_orientation(image, image.samples8, orientation);
  return image;
}

std::string describe_unknown(std::span<const uint8_t> bytes) {
  auto starts = [&](std::string_view magic) {
    return bytes.size() >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
  };
  if (starts("GIF8")) return "a GIF image: only JPEG and PNG are supported";
  if (starts("BM")) return "a BMP image: only JPEG and PNG are supported";
  if (starts("RIFF") && bytes.size() >= 12 && std::memcmp(bytes.data() + 8, "WEBP", 4) == 0)
    return "a WebP image: only JPEG and PNG are supported";
  if (starts("II*") || starts("MM\0*")) return "a TIFF image: only JPEG and PNG are supported";
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) head += fmt::format("{:02x}", bytes[i]);
  return fmt::format("not a JPEG or PNG image (starts with bytes {})", head);
}

}  // namespace

ImageFormat detect_format(std::span<const uint8_t> bytes) {
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return ImageFormat::jpeg;
  static constexpr uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) return ImageFormat::png;
  return ImageFormat::unknown;
}

DecodedImage decode_image_bytes(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
  if (bytes.empty()) image_fail(name, "empty file (0 bytes)");
  switch (detect_format(bytes)) {
    case ImageFormat::jpeg: return decode_jpeg(bytes, name, options);
    case ImageFormat::png: return decode_png(bytes, name, options);
    case ImageFormat::unknown: break;
  }
  image_fail(name, describe_unknown(bytes));
}

DecodedImage decode_image(const std::filesystem::path& path, const DecodeOptions& options) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) image_fail(name, fmt::format("cannot open: {}", std::strerror(errno)));
  const std::streamoff size = in.tellg();
  if (size < 0) image_fail(name, "cannot read (not a regular file?)");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    image_fail(name, fmt::format("read error: {}", std::strerror(errno)));
  return decode_image_bytes(bytes, name, options);
}

}  // namespace xfer::image
