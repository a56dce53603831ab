#pragma once
// Limits on what one request may ask of the pipeline, checked before any work starts:
// prompt text, and input images by the dimensions in their headers, so that an input
// cheap to send cannot cost seconds of CPU or gigabytes of memory.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"

namespace sd::pipeline {

// Long prompts are encoded in 75-token chunks, each widening the UNet's cross-attention;
// this bounds the cost one request can ask for (about 2500 tokens, 35 chunks) while
// leaving room for any prompt a person writes.
constexpr size_t kMaxPromptBytes = 10000;
// Input images are resized to the generation size (at most 2048 a side, at least 64): a
// longer side or a more extreme shape than that range allows only costs decoding time.
constexpr int kMaxInputImageSide = 8192;
constexpr size_t kMaxInputImagePixels = size_t(4096) * 4096;
constexpr int kMaxInputImageAspect = 2048 / 64;

// The largest blur of a mask's edge (Gaussian sigma, pixels) an inpainting request may
// ask for: any more is a blur wider than the largest image.
constexpr float kMaxMaskBlur = 256.f;
// The widest margin around the mask of "only masked" inpainting: any more reaches past the
// largest input image.
constexpr int kMaxInpaintPadding = kMaxInputImageSide;

// Throws RequestError (request_error.h) for text over kMaxPromptBytes or holding a control
// character other than tab, newline and carriage return (NUL, ESC, DEL, C1 controls).
void check_prompt(const std::string& field, const std::string& text);

// Throws RequestError for an image of more than kMaxInputImageSide on a side,
// kMaxInputImagePixels, or an aspect ratio beyond kMaxInputImageAspect : 1.
void check_input_image_size(const std::string& field, int64_t width, int64_t height);

// A PNG or JPEG input image, its header's dimensions checked before it is decoded;
// channels 3 (RGB) or 1 (luminance). Throws RequestError.
io::Image decode_input_image(const std::string& field, const std::vector<uint8_t>& bytes, int channels);

}  // namespace sd::pipeline
