#include "pipeline/inpaint_area.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "core/error.h"
#include "pipeline/image_inputs.h"
#include "pipeline/masked_content.h"

namespace sd::pipeline {

namespace {

// Grows [lo, hi) to `want` (a length), half on each side (the odd pixel after), then
// shifts it back inside [0, limit) and clips it there.
void grow_span(int& lo, int& hi, int want, int limit) {
  const int grow = std::max(0, want - (hi - lo));
  lo -= grow / 2;
  hi += grow - grow / 2;
  if (hi > limit) {
    lo -= hi - limit;
    hi = limit;
  }
  if (lo < 0) {
    hi -= lo;
    lo = 0;
  }
  hi = std::min(hi, limit);
}

}  // namespace

std::optional<PixelBox> masked_box(const io::Image& mask, int padding) {
  SD_CHECK(mask.channels == 1, "masked_box takes a 1-channel mask");
  int x1 = mask.width, y1 = mask.height, x2 = 0, y2 = 0;
  for (int y = 0; y < mask.height; ++y)
    for (int x = 0; x < mask.width; ++x)
      if (mask.at(x, y, 0) != 0) {
        x1 = std::min(x1, x);
        x2 = std::max(x2, x + 1);
        y1 = std::min(y1, y);
        y2 = std::max(y2, y + 1);
      }
  if (x2 == 0) return std::nullopt;
  return PixelBox{std::max(x1 - padding, 0), std::max(y1 - padding, 0), std::min(x2 + padding, mask.width),
                  std::min(y2 + padding, mask.height)};
}

PixelBox widen_to_aspect(const PixelBox& box, int width, int height, int image_w, int image_h) {
  PixelBox out = box;
  // Compared as products, exactly: box.w / box.h against width / height.
  if (int64_t(box.width()) * height > int64_t(box.height()) * width)
    grow_span(out.y1, out.y2, int(int64_t(box.width()) * height / width), image_h);
  else
    grow_span(out.x1, out.x2, int(int64_t(box.height()) * width / height), image_w);
  return out;
}

io::Image crop(const io::Image& image, const PixelBox& box) {
  SD_CHECK(box.x1 >= 0 && box.y1 >= 0 && box.x2 <= image.width && box.y2 <= image.height && box.width() > 0 &&
               box.height() > 0,
           "crop box outside the image");
  const size_t c = size_t(image.channels), row = size_t(box.width()) * c;
  io::Image out{box.width(), box.height(), image.channels, std::vector<uint8_t>(row * size_t(box.height()))};
  for (int y = 0; y < box.height(); ++y) {
    const uint8_t* src = &image.pixels[(size_t(box.y1 + y) * size_t(image.width) + size_t(box.x1)) * c];
    std::copy(src, src + row, &out.pixels[size_t(y) * row]);
  }
  return out;
}

io::Image mask_at_size(const io::Image& mask, int width, int height) {
  const Tensor levels = mask_levels(mask, width, height);
  const float* l = levels.data<float>();
  io::Image out{width, height, 1, std::vector<uint8_t>(size_t(width) * size_t(height))};
  for (size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = uint8_t(std::lround(l[i] * 255.f));
  return out;
}

io::Image paste_into_box(const io::Image& generated, const io::Image& original, const io::Image& mask,
                         const PixelBox& box) {
  SD_CHECK(generated.channels == original.channels, "the original and the generated image differ in channels");
  const io::Image inside = resize_lanczos(generated, box.width(), box.height());
  io::Image canvas = original;
  const size_t c = size_t(original.channels), row = size_t(box.width()) * c;
  for (int y = 0; y < box.height(); ++y)
    std::copy_n(&inside.pixels[size_t(y) * row], row,
                &canvas.pixels[(size_t(box.y1 + y) * size_t(original.width) + size_t(box.x1)) * c]);
  return paste_original(canvas, original, mask, 1.f);
}

}  // namespace sd::pipeline
