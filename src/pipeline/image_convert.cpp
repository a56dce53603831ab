#include "pipeline/image_convert.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sd::pipeline {

io::Image tensor_to_image(const Tensor& decoded) {
  SD_CHECK(decoded.ndim() == 4 && decoded.size(0) == 1 && decoded.size(1) == 3,
           "expected a [1,3,H,W] image, got " + decoded.desc());
  const Tensor x = decoded.to(DType::F32).contiguous();
  const int H = int(x.size(2)), W = int(x.size(3));
  io::Image img;
  img.width = W;
  img.height = H;
  img.channels = 3;
  img.pixels.resize(size_t(W) * H * 3);
  const float* p = x.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < H; ++y)
      for (int xx = 0; xx < W; ++xx) {
        float v = std::clamp(p[(size_t(c) * H + y) * W + xx] / 2.0f + 0.5f, 0.0f, 1.0f);
        img.pixels[(size_t(y) * W + xx) * 3 + c] = uint8_t(std::nearbyint(v * 255.0f));
      }
  return img;
}

Tensor image_to_tensor(const io::Image& img) {
  SD_CHECK(img.channels == 3, "expected an RGB image, got " + std::to_string(img.channels) + " channels");
  const int H = img.height, W = img.width;
  Tensor t = Tensor::empty({1, 3, H, W}, DType::F32);
  float* p = t.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        p[(size_t(c) * H + y) * W + x] = float(img.at(x, y, c)) / 255.0f * 2.0f - 1.0f;
  return t;
}

}  // namespace sd::pipeline
