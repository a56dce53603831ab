#pragma once
// Conversions between 8-bit images and the float tensors the VAE reads and writes,
// with diffusers' exact arithmetic so images match its PIL output.
#include "core/tensor.h"
#include "io/image.h"

namespace sd::pipeline {

// Decoder output [1,3,H,W] (any layout, nominally [-1,1]) to RGB 8-bit:
// round(clamp(x/2+0.5, 0, 1) * 255) in float32 with ties to even (numpy round).
io::Image tensor_to_image(const Tensor& decoded);

// RGB 8-bit to [1,3,H,W] float32 in [-1,1]: x/255*2-1.
Tensor image_to_tensor(const io::Image& img);

}  // namespace sd::pipeline
