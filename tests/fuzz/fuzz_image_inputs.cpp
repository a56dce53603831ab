// The img2img/inpaint input path: an uploaded image decoded, resized (Lanczos) to the
// generation size and scaled, and the same bytes as a mask, binarised and shrunk to the
// latent size. The first two bytes choose the output size (8..256 in steps of 8); the
// pixel limit is small so each run stays fast.
#include <cstdlib>

#include "core/error.h"
#include "io/image.h"
#include "pipeline/image_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int width = 8 * (1 + data[0] % 32), height = 8 * (1 + data[1] % 32);
  data += 2;
  size -= 2;
  constexpr size_t kMaxPixels = size_t(1) << 16;
  try {
    const sd::io::Image rgb = sd::io::decode_image(data, size, 3, kMaxPixels);
    const sd::Tensor image = sd::pipeline::prepare_image(rgb, width, height);
    const sd::Tensor mask = sd::pipeline::prepare_mask(rgb, width, height);
    const sd::Tensor masked = sd::pipeline::mask_out(image, mask);
    const sd::Tensor latent_mask = sd::pipeline::mask_to_latent_size(mask, height / 8, width / 8);
    const float* p = image.data<float>();
    for (int64_t i = 0; i < image.numel(); ++i)
      if (!(p[i] >= -1.f && p[i] <= 1.f)) std::abort();
    if (masked.numel() != image.numel() || latent_mask.numel() != int64_t(width / 8) * (height / 8)) std::abort();
  } catch (const sd::Error&) {
  }
  try {
    const sd::io::Image grey = sd::io::decode_image(data, size, 1, kMaxPixels);
    sd::pipeline::prepare_mask(grey, width, height);
  } catch (const sd::Error&) {
  }
  return 0;
}
