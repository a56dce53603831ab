// A1111's inpainting_fill modes: the "fill" of the masked area from its surroundings, the
// blur it is built on, the latent-space modes, and their effect on a whole inpainting job.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/masked_content.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

// [1,C,H,W] with channel c of pixel (y, x) = f(c, y, x).
template <class F>
Tensor image_of(int64_t c, int64_t h, int64_t w, F f) {
  Tensor t = Tensor::empty({1, c, h, w}, DType::F32);
  float* p = t.data<float>();
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) p[(k * h + y) * w + x] = f(k, y, x);
  return t;
}

float at(const Tensor& t, int64_t c, int64_t y, int64_t x) {
  return t.data<float>()[(c * t.size(2) + y) * t.size(3) + x];
}

TEST(GaussianBlur, KeepsConstantsAndSumsAndSpreadsAPoint) {
  const Tensor flat = image_of(2, 9, 11, [](int64_t c, int64_t, int64_t) { return c ? -0.25f : 0.75f; });
  const Tensor b = gaussian_blur(flat, 3.f, 2.f);
  for (int64_t i = 0; i < b.numel(); ++i) EXPECT_NEAR(b.data<float>()[i], flat.data<float>()[i], 1e-6);
  const Tensor point = image_of(1, 41, 41, [](int64_t, int64_t y, int64_t x) { return y == 20 && x == 20 ? 1.f : 0.f; });
  const Tensor spread = gaussian_blur(point, 4.f, 4.f);
  double sum = 0;
  for (int64_t i = 0; i < spread.numel(); ++i) sum += spread.data<float>()[i];
  EXPECT_NEAR(sum, 1.0, 1e-5);  // far from the edges, nothing is lost
  // Close to a Gaussian of sigma 4: the centre about 1 / (2 pi 16), symmetric, falling off.
  EXPECT_NEAR(at(spread, 0, 20, 20), 1.0 / (2 * M_PI * 16), 0.002);
  EXPECT_NEAR(at(spread, 0, 20, 24), at(spread, 0, 24, 20), 1e-7);
  EXPECT_GT(at(spread, 0, 20, 24), at(spread, 0, 20, 28));
  const Tensor same = gaussian_blur(point, 0.f, 0.f);
  EXPECT_EQ(at(same, 0, 20, 20), 1.f);
}

TEST(FillMaskedArea, TakesTheNearestUnmaskedColoursAndKeepsTheRest) {
  // Left quarter one colour, right quarter another, the middle half masked.
  const int64_t h = 16, w = 64;
  const Tensor img = image_of(3, h, w, [&](int64_t c, int64_t, int64_t x) {
    if (x < w / 4) return c == 0 ? 1.f : -1.f;   // red
    if (x >= 3 * w / 4) return c == 2 ? 1.f : -1.f;  // blue
    return 0.3f;                                   // under the mask: must not leak
  });
  const Tensor mask = image_of(1, h, w, [&](int64_t, int64_t, int64_t x) { return x >= w / 4 && x < 3 * w / 4 ? 1.f : 0.f; });
  const Tensor out = fill_masked_area(img, mask);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      if (x < w / 4 || x >= 3 * w / 4) {
        for (int64_t c = 0; c < 3; ++c) ASSERT_EQ(at(out, c, y, x), at(img, c, y, x));
      }
  // Next to the red edge red dominates, next to the blue edge blue, and the masked grey is gone.
  EXPECT_GT(at(out, 0, 8, w / 4), at(out, 2, 8, w / 4));
  EXPECT_GT(at(out, 2, 8, 3 * w / 4 - 1), at(out, 0, 8, 3 * w / 4 - 1));
  for (int64_t x = w / 4; x < 3 * w / 4; ++x) {
    EXPECT_NEAR(at(out, 1, 8, x), -1.f, 1e-4) << x;  // green is -1 everywhere kept
    EXPECT_NEAR(at(out, 0, 8, x) + at(out, 2, 8, x), 0.f, 1e-4) << x;  // a blend of red and blue
  }
  // Nothing kept at all: black.
  const Tensor all = image_of(1, h, w, [](int64_t, int64_t, int64_t) { return 1.f; });
  const Tensor black = fill_masked_area(img, all);
  EXPECT_EQ(at(black, 0, 3, 3), -1.f);
}

TEST(LatentContent, NoiseOrZerosUnderTheMaskOnly) {
  const Tensor lat = image_of(4, 4, 4, [](int64_t c, int64_t y, int64_t x) { return float(c + y + x) + 1; });
  const Tensor noise = image_of(4, 4, 4, [](int64_t c, int64_t, int64_t) { return -float(c) - 10; });
  const Tensor mask = image_of(1, 4, 4, [](int64_t, int64_t y, int64_t) { return y < 2 ? 1.f : 0.f; });
  const Tensor zeros = apply_latent_content(MaskedContent::LatentNothing, lat, mask, noise);
  const Tensor noised = apply_latent_content(MaskedContent::LatentNoise, lat, mask, noise);
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 4; ++x) {
        EXPECT_EQ(at(zeros, c, y, x), y < 2 ? 0.f : at(lat, c, y, x));
        EXPECT_EQ(at(noised, c, y, x), y < 2 ? at(noise, c, y, x) : at(lat, c, y, x));
      }
  EXPECT_EQ(apply_latent_content(MaskedContent::Fill, lat, mask, noise).data<float>(), lat.data<float>());
}

TEST(MaskedContent, EachModeStartsTheMaskedAreaDifferently) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options());
  GenerationRequest req = test::tiny_ddim_request(7);
  req.operation = Operation::Inpaint;
  req.strength = 0.6;
  req.init_image = io::Image{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3)};
  for (size_t i = 0; i < req.init_image->pixels.size(); ++i) req.init_image->pixels[i] = uint8_t((i * 37) % 251);
  req.mask_image = io::Image{64, 64, 1, std::vector<uint8_t>(64 * 64, 0)};
  for (int y = 16; y < 48; ++y)
    for (int x = 16; x < 48; ++x) req.mask_image->pixels[size_t(y * 64 + x)] = 255;
  std::vector<Tensor> latents;
  for (MaskedContent m : {MaskedContent::Original, MaskedContent::Fill, MaskedContent::LatentNoise,
                          MaskedContent::LatentNothing}) {
    req.masked_content = m;
    latents.push_back(pipe->generate(req, {}).final_latents.contiguous());
  }
  // Latent mask: rows and columns 8..23 of 32. "fill" changes pixels, whose encoding
  // reaches a little past the mask's edge; the latent modes start from the filled image
  // too, as in A1111, and change only its masked latents.
  for (size_t k = 1; k < latents.size(); ++k) {
    const bool latent_mode = k >= 2;
    int inside_differs = 0;
    const float *a = latents[latent_mode ? 1 : 0].data<float>(), *b = latents[k].data<float>();
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) {
          const int64_t i = (c * 32 + y) * 32 + x;
          if (y >= 8 && y < 24 && x >= 8 && x < 24) {
            inside_differs += a[i] != b[i];
          } else if (latent_mode) {
            ASSERT_EQ(a[i], b[i]) << "mode " << k << " changed an unmasked latent";
          }
        }
    EXPECT_GT(inside_differs, 16 * 16) << "mode " << k;
  }
}

}  // namespace
}  // namespace sd::pipeline
