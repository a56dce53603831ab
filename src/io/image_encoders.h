#pragma once
// The lossy encoders behind encode_image (internal to src/io). Both take 8-bit grey, RGB
// or RGBA (alpha is dropped from JPEG) and, when `exif` is not empty, embed it as
// piexif.insert does: JPEG as the APP1 segment right after SOI (in place of JFIF's APP0),
// "Exif\0\0" header included; WebP as an EXIF chunk of the extended format, which holds
// the TIFF block alone.
#include <cstdint>
#include <vector>

#include "io/image.h"

namespace sd::io::detail {

std::vector<uint8_t> encode_jpeg(const Image& img, int quality, const std::vector<uint8_t>& exif);
std::vector<uint8_t> encode_webp(const Image& img, int quality, const std::vector<uint8_t>& exif);

}  // namespace sd::io::detail
