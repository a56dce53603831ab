#pragma once
// The formats generated images are saved in, and the generation parameters they carry
// where AUTOMATIC1111 puts them: a PNG "parameters" text chunk, or for JPEG and WebP an
// EXIF UserComment ("UNICODE\0" + UTF-16, as piexif writes it for A1111).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/image.h"

namespace sd::io {

enum class ImageFormat { Png, Jpeg, Webp };

// "png", "jpeg"/"jpg", "webp", case-insensitive.
std::optional<ImageFormat> image_format_from_name(std::string_view name);
// The format a file name's extension names (".png", ".jpg", ".jpeg", ".webp").
std::optional<ImageFormat> image_format_from_path(std::string_view path);
// "png", "jpeg", "webp": the canonical name, also the file extension used for new files.
const char* image_format_name(ImageFormat f);

// Quality applies to JPEG and WebP (lossy, 1..100; A1111's default is 80) and is ignored
// for PNG. Empty parameters write no metadata. Throws sd::Error for a quality outside
// 1..100 or parameters too long for the format's metadata (JPEG: one 64 KiB segment).
std::vector<uint8_t> encode_image(const Image& img, ImageFormat format, int quality, const std::string& parameters);

// The parameters text of a PNG, JPEG or WebP, or nullopt when it carries none (or its
// metadata cannot be parsed). Throws sd::Error for bytes that are none of the three.
std::optional<std::string> read_parameters(const uint8_t* data, size_t size);
inline std::optional<std::string> read_parameters(const std::vector<uint8_t>& bytes) {
  return read_parameters(bytes.data(), bytes.size());
}

}  // namespace sd::io
