#pragma once
// 8-bit images and their codecs. Decoders take untrusted bytes (uploads over HTTP) and
// report any problem as sd::Error; they never crash or allocate without bound.
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

// PNG with tEXt chunks (e.g. {"parameters", "..."}: the convention image tools read).
std::vector<uint8_t> encode_png(const Image& img, const TextChunks& text = {});
TextChunks read_png_text(const uint8_t* data, size_t size);

// PNG or JPEG, detected from the bytes, returned as RGB (channels 3) or, when
// `channels` is 1, as luminance. Images above max_pixels are refused before decoding.
Image decode_image(const uint8_t* data, size_t size, int channels = 3,
                   size_t max_pixels = size_t(4096) * 4096);

Image read_image_file(const std::string& path, int channels = 3);
void write_png_file(const std::string& path, const Image& img, const TextChunks& text = {});

// Standard base64 (RFC 4648) with padding. decode accepts an optional
// "data:<mime>;base64," prefix and ignores whitespace; anything else invalid throws.
std::string base64_encode(const uint8_t* data, size_t size);
inline std::string base64_encode(const std::vector<uint8_t>& v) { return base64_encode(v.data(), v.size()); }
std::vector<uint8_t> base64_decode(std::string_view text);

}  // namespace sd::io
