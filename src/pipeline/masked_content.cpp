#include "pipeline/masked_content.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "pipeline/image_inputs.h"

namespace sd::pipeline {

namespace {

// The box radius (integer part plus a fractional edge weight) of one of three box blurs
// that together approximate a Gaussian of `sigma` (Gwosdek et al., "Theoretical
// foundations of Gaussian convolution by extended box filtering", 2011: eqs. 7, 11, 14).
double extended_box_radius(double sigma) {
  constexpr int kPasses = 3;
  const double s2 = sigma * sigma / kPasses;
  const double l = std::floor((std::sqrt(12.0 * s2 + 1.0) - 1.0) / 2.0);
  const double a = (2 * l + 1) * (l * (l + 1) - 3 * s2) / (6 * (s2 - (l + 1) * (l + 1)));
  return l + a;
}

// One extended box blur of n values read and written `stride` apart, edges extended;
// `pad` is scratch.
void box_blur_line(float* v, int64_t n, int64_t stride, double radius, std::vector<double>& pad) {
  const int64_t m = int64_t(radius);
  const double frac = radius - double(m), norm = 1.0 / (2.0 * radius + 1.0);
  const int64_t border = m + 1;
  // pad[k] = v[clamp(k - border)], then its running sum in place.
  pad.assign(size_t(n + 2 * border + 1), 0.0);
  for (int64_t k = 0; k < n + 2 * border; ++k)
    pad[size_t(k + 1)] = pad[size_t(k)] + double(v[std::clamp<int64_t>(k - border, 0, n - 1) * stride]);
  auto at = [&](int64_t k) { return pad[size_t(k + 1)] - pad[size_t(k)]; };  // padded value k
  for (int64_t x = 0; x < n; ++x) {
    const int64_t c = x + border;  // x's index in the padded line
    const double inner = pad[size_t(c + m + 1)] - pad[size_t(c - m)];
    v[x * stride] = float((inner + frac * (at(c - m - 1) + at(c + m + 1))) * norm);
  }
}

}  // namespace

Tensor gaussian_blur(const Tensor& x, float sigma_x, float sigma_y) {
  SD_CHECK(x.ndim() == 4 && x.size(0) == 1 && x.dtype() == DType::F32, "gaussian_blur takes [1,C,H,W] float32");
  Tensor out = x.contiguous().clone();
  const int64_t C = out.size(1), H = out.size(2), W = out.size(3);
  float* p = out.data<float>();
  std::vector<double> pad;
  for (int pass = 0; pass < 3; ++pass)
    for (int64_t c = 0; c < C; ++c) {
      float* plane = p + c * H * W;
      if (sigma_x > 0)
        for (int64_t y = 0; y < H; ++y) box_blur_line(plane + y * W, W, 1, extended_box_radius(sigma_x), pad);
      if (sigma_y > 0)
        for (int64_t xx = 0; xx < W; ++xx) box_blur_line(plane + xx, H, W, extended_box_radius(sigma_y), pad);
    }
  return out;
}

Tensor fill_masked_area(const Tensor& image, const Tensor& mask) {
  const Tensor img = image.contiguous(), m = mask.contiguous();
  const int64_t C = img.size(1), H = img.size(2), W = img.size(3), N = H * W;
  SD_CHECK(m.size(2) == H && m.size(3) == W, "mask and image sizes differ");
  // Channels 0..C-1: the colours premultiplied by coverage; channel C: the coverage (1 where
  // the image is kept).
  Tensor kept = Tensor::empty({1, C + 1, H, W}, DType::F32);
  float* k = kept.data<float>();
  const float *src = img.data<float>(), *mk = m.data<float>();
  for (int64_t i = 0; i < N; ++i) k[C * N + i] = mk[i] < 0.5f ? 1.f : 0.f;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < N; ++i) k[c * N + i] = src[c * N + i] * k[C * N + i];

  // The composite so far, premultiplied, with its coverage in channel C.
  std::vector<double> acc(size_t((C + 1) * N), 0.0);
  for (const auto& [radius, repeats] : {std::pair{256.f, 1}, {64.f, 1}, {16.f, 2}, {4.f, 4}, {2.f, 2}, {0.f, 1}}) {
    const Tensor blurred = gaussian_blur(kept, radius, radius);
    const float* b = blurred.data<float>();
    for (int r = 0; r < repeats; ++r)
      for (int64_t i = 0; i < N; ++i) {
        const double cover = b[C * N + i], keep = 1.0 - cover;  // "over": the blurred layer on top
        for (int64_t c = 0; c <= C; ++c) acc[size_t(c * N + i)] = b[c * N + i] + acc[size_t(c * N + i)] * keep;
      }
  }
  Tensor out = Tensor::empty(img.shape(), DType::F32);
  float* o = out.data<float>();
  for (int64_t i = 0; i < N; ++i) {
    const double cover = acc[size_t(C * N + i)];
    for (int64_t c = 0; c < C; ++c)
      o[c * N + i] = mk[i] < 0.5f ? src[c * N + i]  // kept exactly
                     : cover > 0 ? float(acc[size_t(c * N + i)] / cover)
                                 : -1.f;  // nothing kept anywhere: black, as A1111's fill gives
  }
  return out;
}

Tensor apply_latent_content(MaskedContent mode, const Tensor& latents, const Tensor& mask, const Tensor& noise) {
  if (mode != MaskedContent::LatentNoise && mode != MaskedContent::LatentNothing) return latents;
  const Tensor l = latents.contiguous(), m = mask.contiguous();
  const int64_t C = l.size(1), N = l.size(2) * l.size(3);
  SD_CHECK(m.numel() == N, "latent mask and latents sizes differ");
  Tensor out = l.clone();
  float* o = out.data<float>();
  const float* mk = m.data<float>();
  const Tensor n = mode == MaskedContent::LatentNoise ? noise.contiguous() : Tensor();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < N; ++i)
      if (mk[i] >= 0.5f) o[c * N + i] = n.defined() ? n.data<float>()[c * N + i] : 0.f;
  return out;
}

io::Image blur_mask(const io::Image& mask, float blur_x, float blur_y) {
  Tensor levels = mask_levels(mask, mask.width, mask.height);
  float* l = levels.data<float>();
  for (int64_t i = 0; i < levels.numel(); ++i) l[i] = l[i] >= 0.5f ? 1.f : 0.f;
  const Tensor blurred = gaussian_blur(levels, blur_x, blur_y);
  const float* b = blurred.data<float>();
  io::Image out{mask.width, mask.height, 1, std::vector<uint8_t>(size_t(mask.width) * size_t(mask.height))};
  for (size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = uint8_t(std::lround(std::clamp(b[i], 0.f, 1.f) * 255.f));
  return out;
}

io::Image paste_original(const io::Image& generated, const io::Image& original, const io::Image& mask, float gain) {
  const int w = generated.width, h = generated.height, c = generated.channels;
  const io::Image base = resize_lanczos(original, w, h);
  SD_CHECK(base.channels == c, "the original and the generated image differ in channels");
  const Tensor levels = mask_levels(mask, w, h);
  const float* m = levels.data<float>();
  io::Image out = generated;
  for (size_t i = 0; i < size_t(w) * size_t(h); ++i) {
    const float k = std::min(1.f, gain * m[i]);
    for (int ch = 0; ch < c; ++ch) {
      const size_t j = i * size_t(c) + size_t(ch);
      out.pixels[j] = uint8_t(std::lround(float(generated.pixels[j]) * k + float(base.pixels[j]) * (1.f - k)));
    }
  }
  return out;
}

}  // namespace sd::pipeline
