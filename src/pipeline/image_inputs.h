#pragma once
// The image inputs of img2img and inpainting, prepared the way diffusers'
// VaeImageProcessor does: resized (Lanczos) to the generation size, scaled to [-1,1];
// masks converted to luminance, resized, binarised at 0.5 and kept in [0,1].
#include "core/tensor.h"
#include "io/image.h"

namespace sd::pipeline {

// Resamples with a Lanczos-3 filter (PIL's Image.LANCZOS), any channel count.
io::Image resize_lanczos(const io::Image& img, int width, int height);

// RGB image -> [1,3,height,width] float32 in [-1,1].
Tensor prepare_image(const io::Image& img, int width, int height);
// Mask image (any channels; white = repaint) -> its luminance resized to
// [1,1,height,width], float32 in [0,1].
Tensor mask_levels(const io::Image& mask, int width, int height);
// The same binarised at 0.5: float32 of 0/1.
Tensor prepare_mask(const io::Image& mask, int width, int height);
// The image with the area to repaint set to 0 (mid grey): image * (mask < 0.5).
Tensor mask_out(const Tensor& image, const Tensor& mask);
// Nearest-neighbour resize of a [1,1,H,W] mask to [1,1,h,w] (F.interpolate, mode nearest).
Tensor mask_to_latent_size(const Tensor& mask, int64_t h, int64_t w);

}  // namespace sd::pipeline
