#pragma once
// The cheapest honest preview: a fixed linear map from the 4 latent channels to RGB,
// fitted to each VAE family (the coefficients ComfyUI and A1111 publish), at latent
// resolution. It costs microseconds where a VAE decode costs seconds.
#include "core/tensor.h"
#include "io/image.h"
#include "loaders/model_version.h"

namespace sd::pipeline {

// latents [1,4,h,w] in UNet space (scaled) -> RGB image h x w.
io::Image latent_rgb_preview(const Tensor& latents, Family family);

}  // namespace sd::pipeline
