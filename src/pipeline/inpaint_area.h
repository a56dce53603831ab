#pragma once
// AUTOMATIC1111's "only masked" inpainting (inpaint_full_res): the box around the mask,
// widened by a margin and to the generation's aspect ratio, is cut out of the input,
// inpainted at the generation size, and put back into the full input through the mask,
// so a small area gets the model's whole resolution and the rest stays as it was.
#include <optional>

#include "io/image.h"

namespace sd::pipeline {

// Pixels [x1, x2) x [y1, y2).
struct PixelBox {
  int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int width() const { return x2 - x1; }
  int height() const { return y2 - y1; }
};

// The smallest box holding every non-zero pixel of a 1-channel mask, widened by `padding`
// on each side and clipped to the image (A1111's get_crop_region); none for an all-zero
// mask.
std::optional<PixelBox> masked_box(const io::Image& mask, int padding);

// The box grown on its short side, about its centre, to the aspect ratio width:height,
// then moved back inside image_w x image_h and clipped to it (A1111's
// expand_crop_region), so the generation size stretches it evenly.
PixelBox widen_to_aspect(const PixelBox& box, int width, int height, int image_w, int image_h);

// The box's pixels, any channel count.
io::Image crop(const io::Image& image, const PixelBox& box);

// The job's mask at the input image's size, as 8-bit luminance.
io::Image mask_at_size(const io::Image& mask, int width, int height);

// `generated` (the box's inpainting, at any size) resized into the box of `original`, then
// the original pasted over it through `mask` (its size, levels not scaled, as A1111 does
// for this mode): outside the box and where the mask is 0 the result is the original.
io::Image paste_into_box(const io::Image& generated, const io::Image& original, const io::Image& mask,
                         const PixelBox& box);

}  // namespace sd::pipeline
