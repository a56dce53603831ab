// Format detection, channel conversion and image files.
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "io/image.h"
#include "io/image_codecs.h"
#include "io/read_file.h"

namespace sd::io {

namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

bool starts_with(const uint8_t* data, size_t size, const void* magic, size_t n, size_t at = 0) {
  return size >= at + n && std::memcmp(data + at, magic, n) == 0;
}

// Names formats we do not decode, so that the error says what the bytes are.
std::string describe_unknown(const uint8_t* data, size_t size) {
  if (starts_with(data, size, "GIF8", 4)) return "a GIF image";
  if (starts_with(data, size, "RIFF", 4) && starts_with(data, size, "WEBP", 4, 8)) return "a WebP image";
  if (starts_with(data, size, "BM", 2)) return "a BMP image";
  if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) return "a TIFF image";
  if (starts_with(data, size, "ftyp", 4, 4)) return "an HEIF/AVIF image";
  std::string hex;
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) {
    char b[4];
    std::snprintf(b, sizeof(b), "%02x", data[i]);
    hex += (i ? " " : "") + std::string(b);
  }
  return "bytes starting " + hex;
}

Image to_luminance(const Image& rgb) {
  Image out;
  out.width = rgb.width;
  out.height = rgb.height;
  out.channels = 1;
  const size_t n = size_t(rgb.width) * size_t(rgb.height);
  out.pixels.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &rgb.pixels[i * 3];
    out.pixels[i] = uint8_t((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
  }
  return out;
}

Image to_opaque_rgba(const Image& rgb) {
  Image out;
  out.width = rgb.width;
  out.height = rgb.height;
  out.channels = 4;
  const size_t n = size_t(rgb.width) * size_t(rgb.height);
  out.pixels.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(&out.pixels[i * 4], &rgb.pixels[i * 3], 3);
    out.pixels[i * 4 + 3] = 255;
  }
  return out;
}

}  // namespace

namespace detail {

void check_image_size(const char* format, uint64_t width, uint64_t height, size_t max_pixels) {
  const std::string dims = std::to_string(width) + "x" + std::to_string(height);
  if (width == 0 || height == 0) throw Error(std::string(format) + " image of " + dims + " is empty");
  // Both sides are below 2^32 (PNG) or 2^16 (JPEG), so the product does not overflow.
  if (width * height > max_pixels)
    throw Error(std::string(format) + " image of " + dims + " exceeds the limit of " +
                std::to_string(max_pixels) + " pixels");
}

}  // namespace detail

Image decode_image(const uint8_t* data, size_t size, int channels, size_t max_pixels) {
  if (channels != 1 && channels != 3 && channels != 4)
    throw Error("decode_image: " + std::to_string(channels) + " channels asked for (1, 3 or 4 supported)");
  if (size == 0) throw Error("image data is empty");
  const bool png = starts_with(data, size, kPngSignature, sizeof(kPngSignature));
  if (!png && !starts_with(data, size, "\xFF\xD8\xFF", 3))
    throw Error("image data is not PNG or JPEG: " + describe_unknown(data, size));
  if (png && channels == 4) return detail::decode_png_rgba(data, size, max_pixels);
  Image rgb = png ? detail::decode_png_rgb(data, size, max_pixels) : detail::decode_jpeg_rgb(data, size, max_pixels);
  if (channels == 4) return to_opaque_rgba(rgb);
  return channels == 1 ? to_luminance(rgb) : rgb;
}

ImageSize read_image_size(const uint8_t* data, size_t size) {
  if (starts_with(data, size, kPngSignature, sizeof(kPngSignature))) {
    // The first chunk after the signature must be IHDR: length 13, then width and height
    // as 32-bit big-endian numbers.
    if (size < 24 || !starts_with(data, size, "IHDR", 4, 12)) throw Error("PNG image: no IHDR chunk at its start");
    auto be32 = [&](size_t at) {
      return int64_t(uint32_t(data[at]) << 24 | uint32_t(data[at + 1]) << 16 | uint32_t(data[at + 2]) << 8 |
                     uint32_t(data[at + 3]));
    };
    return {be32(16), be32(20)};
  }
  if (starts_with(data, size, "\xFF\xD8\xFF", 3)) return detail::jpeg_image_size(data, size);
  if (size == 0) throw Error("image data is empty");
  throw Error("image data is not PNG or JPEG: " + describe_unknown(data, size));
}

Image read_image_file(const std::string& path, int channels) {
  const std::string bytes = read_file_bounded(path, kMaxImageFileBytes, "an image file");
  try {
    return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), channels);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

void write_png_file(const std::string& path, const Image& img, const TextChunks& text) {
  std::vector<uint8_t> png;
  try {
    png = encode_png(img, text);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot open for writing");
  out.write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
  out.close();
  if (!out) throw Error(path + ": write failed");
}

}  // namespace sd::io
