#pragma once
// The format-specific decoders behind decode_image (internal to src/io). They return
// 8-bit RGB (or RGBA) and check the dimensions in the header against max_pixels before they
// allocate the image.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/image.h"

namespace sd::io::detail {

Image decode_png_rgb(const uint8_t* data, size_t size, size_t max_pixels);
Image decode_png_rgba(const uint8_t* data, size_t size, size_t max_pixels);
Image decode_jpeg_rgb(const uint8_t* data, size_t size, size_t max_pixels);

// The image_width and image_height of a JPEG's frame header.
ImageSize jpeg_image_size(const uint8_t* data, size_t size);

// Throws sd::Error "<format> image of WxH is ..." for empty or too large images.
void check_image_size(const char* format, uint64_t width, uint64_t height, size_t max_pixels);

}  // namespace sd::io::detail
