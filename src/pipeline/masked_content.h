#pragma once
// What the area to repaint starts from in masked img2img (AUTOMATIC1111's
// inpainting_fill): the original image (diffusers' behaviour, and A1111's "original"), the
// original with the area filled from its surroundings ("fill"), fresh noise ("latent
// noise") or zeros ("latent nothing") in its latents.
#include "core/tensor.h"
#include "io/image.h"

namespace sd::pipeline {

enum class MaskedContent { Original, Fill, LatentNoise, LatentNothing };

// "fill": the masked pixels of `image` ([1,C,H,W] float32) replaced by the unmasked colours
// around them, as A1111's masking.fill does: the unmasked pixels (premultiplied by their
// coverage) Gaussian-blurred at radii 256, 64, 16, 4, 2 and 0 px, composited coarse to fine,
// so each masked pixel takes the colour of the nearest unmasked ones. `mask` is [1,1,H,W],
// 1 = repaint. Unmasked pixels keep their values exactly.
Tensor fill_masked_area(const Tensor& image, const Tensor& mask);

// The latent-space modes, on the image's latents `latents` [1,C,h,w] with the latent-size
// mask [1,1,h,w]: LatentNoise puts `noise` (the job's own starting noise, as A1111 draws it
// again from the seed) under the mask, LatentNothing zeros; the other modes return latents.
Tensor apply_latent_content(MaskedContent mode, const Tensor& latents, const Tensor& mask, const Tensor& noise);

// A1111's mask for masked img2img with mask_blur: the mask's luminance at its own size,
// binarised at half level, then Gaussian-blurred by blur_x/blur_y (sigma, pixels), as
// 8-bit levels. The job then uses it as its mask: binarised again for the latents (A1111
// rounds the blurred mask), and in its levels for the paste.
io::Image blur_mask(const io::Image& mask, float blur_x, float blur_y);

// A1111's overlay of masked img2img: `original` (the init image) resized to the output,
// pasted over `generated` through the mask's levels resized to the output and scaled by
// `gain`: out = generated * k + original * (1 - k), k = min(1, gain * level). A1111 uses
// gain 2 for the whole picture (the blurred edge's inner half is all generated) and 1 for
// "only masked". Pixels at level 0 are the original's exactly.
io::Image paste_original(const io::Image& generated, const io::Image& original, const io::Image& mask, float gain);

// The separable Gaussian blur (PIL's GaussianBlur(sigma): three extended box blurs,
// edges extended) of each channel of a [1,C,H,W] float32 tensor; sigma 0 returns a copy.
Tensor gaussian_blur(const Tensor& x, float sigma_x, float sigma_y);

}  // namespace sd::pipeline
