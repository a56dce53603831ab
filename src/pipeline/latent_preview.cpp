#include "pipeline/latent_preview.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sd::pipeline {

namespace {
// rgb = sum_c latent[c] * factor[c][rgb] + bias[rgb], then mapped from [-1,1] to 8 bits.
struct LatentRgb {
  float factors[4][3];
  float bias[3];
};

constexpr LatentRgb kSd1 = {{{0.3512f, 0.2297f, 0.3227f},
                             {0.3250f, 0.4974f, 0.2350f},
                             {-0.2829f, 0.1762f, 0.2721f},
                             {-0.2120f, -0.2616f, -0.7177f}},
                            {0.f, 0.f, 0.f}};
constexpr LatentRgb kSdxl = {{{0.3651f, 0.4232f, 0.4341f},
                              {-0.2533f, -0.0042f, 0.1068f},
                              {0.1076f, 0.1111f, -0.0362f},
                              {-0.3165f, -0.2492f, -0.2188f}},
                             {0.1084f, -0.0175f, -0.0011f}};
}  // namespace

io::Image latent_rgb_preview(const Tensor& latents, Family family) {
  SD_CHECK(latents.ndim() == 4 && latents.size(1) == 4,
           "latent preview needs [N,4,h,w] latents, got " + latents.desc());
  const LatentRgb& m = family == Family::SDXL ? kSdxl : kSd1;
  const Tensor x = latents.select(0, 0).to(DType::F32).contiguous();
  const int h = int(x.size(1)), w = int(x.size(2));
  const float* p = x.data<float>();
  io::Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.resize(size_t(w) * h * 3);
  const size_t plane = size_t(h) * w;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) {
      float v = m.bias[c];
      for (int k = 0; k < 4; ++k) v += p[k * plane + i] * m.factors[k][c];
      img.pixels[i * 3 + c] = uint8_t(std::lround(std::clamp((v + 1.f) * 127.5f, 0.f, 255.f)));
    }
  return img;
}

}  // namespace sd::pipeline
