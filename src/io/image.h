#pragma once
// 8-bit images and their codecs. Decoders take untrusted bytes (uploads over HTTP) and
// report any problem as sd::Error; they never crash or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sd::io {

// Row-major, interleaved channels (RGB: 3, grey/mask: 1, RGBA: 4).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<uint8_t> pixels;
  uint8_t& at(int x, int y, int c) { return pixels[(size_t(y) * width + x) * channels + c]; }
  uint8_t at(int x, int y, int c) const { return pixels[(size_t(y) * width + x) * channels + c]; }
};

using TextChunks = std::vector<std::pair<std::string, std::string>>;

// PNG (8-bit grey, RGB or RGBA from `channels`) with text chunks, e.g. {"parameters",
// "..."}: the convention image tools read. Keys are 1-79 printable ASCII characters.
// Values are UTF-8, written as tEXt when ASCII and as iTXt otherwise (as PIL's
// PngInfo.add_text does for text beyond Latin-1).
std::vector<uint8_t> encode_png(const Image& img, const TextChunks& text = {});
// Every tEXt, zTXt and iTXt chunk, before or after the image data, in file order, with
// Latin-1 converted to UTF-8. Reading the trailing chunks decodes the image row by row
// (memory of one row); images above max_pixels are refused.
TextChunks read_png_text(const uint8_t* data, size_t size, size_t max_pixels = size_t(1) << 28);
inline TextChunks read_png_text(const std::vector<uint8_t>& png) { return read_png_text(png.data(), png.size()); }

// PNG or JPEG, detected from the bytes, returned as RGB (channels 3), luminance
// (channels 1) or RGBA (channels 4: alpha from the PNG's alpha channel or tRNS chunk,
// else opaque). Images above max_pixels are refused before decoding.
// Conversions follow PIL's Image.convert("RGB") / convert("L"), which diffusers uses:
// - alpha is dropped, not composited (RGBA, grey+alpha, palette with tRNS), unless asked for;
// - palette and 1/2/4-bit grey are expanded; 16-bit samples keep their high byte;
// - CMYK/YCCK JPEGs are read as Adobe's inverted CMYK and give R = (255-C)(255-K)/255
//   (likewise G, B), as PIL does for every 4-component JPEG;
// - luminance is L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (ITU-R 601).
// Gamma and ICC profiles are not applied (nor by PIL). EXIF orientation is not applied
// either, unlike diffusers' load_image (which calls ImageOps.exif_transpose).
// A truncated PNG or JPEG (including a JPEG whose data ends before its last row) is an
// error, not a partly grey image; other corrupt-data warnings of libjpeg are tolerated,
// as in PIL.
Image decode_image(const uint8_t* data, size_t size, int channels = 3,
                   size_t max_pixels = size_t(4096) * 4096);
inline Image decode_image(const std::vector<uint8_t>& bytes, int channels = 3,
                          size_t max_pixels = size_t(4096) * 4096) {
  return decode_image(bytes.data(), bytes.size(), channels, max_pixels);
}

struct ImageSize {
  int64_t width = 0;
  int64_t height = 0;
};
// The dimensions a PNG or JPEG header states, read without decoding any pixel, so that a
// caller can refuse an image before it costs anything. Throws sd::Error for other data.
ImageSize read_image_size(const uint8_t* data, size_t size);

// An image file is refused unread beyond this: an uncompressed 16-bit RGBA PNG at the
// decoder's 4096 x 4096 limit takes 128 MB.
inline constexpr uint64_t kMaxImageFileBytes = uint64_t(256) << 20;

// Errors name the file.
Image read_image_file(const std::string& path, int channels = 3);
void write_png_file(const std::string& path, const Image& img, const TextChunks& text = {});

// Standard base64 (RFC 4648) with padding. decode accepts an optional
// "data:<mime>;base64," prefix and ignores whitespace; anything else invalid throws.
// Input that would decode to more than max_bytes is refused before allocating.
std::string base64_encode(const uint8_t* data, size_t size);
inline std::string base64_encode(const std::vector<uint8_t>& v) { return base64_encode(v.data(), v.size()); }
std::vector<uint8_t> base64_decode(std::string_view text, size_t max_bytes = SIZE_MAX);

}  // namespace sd::io
