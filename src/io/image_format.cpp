// Image formats by name, the encoder for each, and the parameters text read back from
// whichever of them a file is.
#include "io/image_format.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/error.h"
#include "io/exif_user_comment.h"
#include "io/image_encoders.h"

namespace sd::io {

namespace {

constexpr char kExifHeader[6] = {'E', 'x', 'i', 'f', 0, 0};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

// The EXIF APP1 segment of a JPEG, searched among the segments before the image data.
std::optional<std::string> jpeg_parameters(const uint8_t* data, size_t size) {
  size_t at = 2;  // after SOI
  while (at + 4 <= size && data[at] == 0xFF) {
    const uint8_t marker = data[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) break;  // start of scan, end of image
    const size_t length = size_t(data[at + 2]) << 8 | data[at + 3];
    if (length < 2 || at + 2 + length > size) break;
    const uint8_t* payload = data + at + 4;
    const size_t n = length - 2;
    if (marker == 0xE1 && n >= sizeof kExifHeader && std::memcmp(payload, kExifHeader, sizeof kExifHeader) == 0)
      return detail::user_comment_of_exif(payload, n);
    at += 2 + length;
  }
  return std::nullopt;
}

// The EXIF chunk of a WebP's RIFF container.
std::optional<std::string> webp_parameters(const uint8_t* data, size_t size) {
  size_t at = 12;  // "RIFF" size "WEBP"
  while (at + 8 <= size) {
    const uint32_t n = le32(data + at + 4);
    if (n > size - at - 8) break;
    if (std::memcmp(data + at, "EXIF", 4) == 0) return detail::user_comment_of_exif(data + at + 8, n);
    at += 8 + size_t(n) + (n & 1);
  }
  return std::nullopt;
}

}  // namespace

std::optional<ImageFormat> image_format_from_name(std::string_view name) {
  const std::string n = lower(name);
  if (n == "png") return ImageFormat::Png;
  if (n == "jpeg" || n == "jpg") return ImageFormat::Jpeg;
  if (n == "webp") return ImageFormat::Webp;
  return std::nullopt;
}

std::optional<ImageFormat> image_format_from_path(std::string_view path) {
  const size_t dot = path.rfind('.');
  const size_t slash = path.find_last_of("/\\");
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return std::nullopt;
  return image_format_from_name(path.substr(dot + 1));
}

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Png: return "png";
    case ImageFormat::Jpeg: return "jpeg";
    case ImageFormat::Webp: return "webp";
  }
  return "png";
}

std::vector<uint8_t> encode_image(const Image& img, ImageFormat format, int quality, const std::string& parameters) {
  if (format == ImageFormat::Png) {
    TextChunks text;
    if (!parameters.empty()) text.emplace_back("parameters", parameters);
    return encode_png(img, text);
  }
  if (quality < 1 || quality > 100) throw Error("quality must be within 1..100, got " + std::to_string(quality));
  std::vector<uint8_t> exif;
  if (!parameters.empty()) exif = detail::exif_with_user_comment(parameters);
  if (format == ImageFormat::Jpeg) return detail::encode_jpeg(img, quality, exif);
  if (!exif.empty()) exif.erase(exif.begin(), exif.begin() + sizeof kExifHeader);
  return detail::encode_webp(img, quality, exif);
}

std::optional<std::string> read_parameters(const uint8_t* data, size_t size) {
  static constexpr uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) {
    for (auto& [key, value] : read_png_text(data, size))
      if (key == "parameters") return value;
    return std::nullopt;
  }
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return jpeg_parameters(data, size);
  if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0)
    return webp_parameters(data, size);
  throw Error("not a PNG, JPEG or WebP image");
}

}  // namespace sd::io
