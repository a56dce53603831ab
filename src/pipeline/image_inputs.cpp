#include "pipeline/image_inputs.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "pipeline/image_convert.h"

namespace sd::pipeline {

namespace {

double lanczos3(double x) {
  x = std::fabs(x);
  if (x < 1e-12) return 1.0;
  if (x >= 3.0) return 0.0;
  const double px = M_PI * x;
  return 3.0 * std::sin(px) * std::sin(px / 3.0) / (px * px);
}

// Per output index: the first input index and the normalised weights (PIL's scheme: the
// filter widens by the scale factor when shrinking, so it averages instead of aliasing).
struct Taps {
  std::vector<int> first;
  std::vector<std::vector<double>> weights;
};

Taps make_taps(int in, int out) {
  const double scale = double(in) / out;
  const double support = 3.0 * std::max(scale, 1.0);
  const double fscale = std::max(scale, 1.0);
  Taps t;
  for (int o = 0; o < out; ++o) {
    const double center = (o + 0.5) * scale;
    int lo = std::max(0, int(std::floor(center - support)));
    int hi = std::min(in, int(std::ceil(center + support)));
    std::vector<double> w;
    double sum = 0;
    for (int i = lo; i < hi; ++i) {
      double v = lanczos3((i + 0.5 - center) / fscale);
      w.push_back(v);
      sum += v;
    }
    for (double& v : w) v /= sum;
    t.first.push_back(lo);
    t.weights.push_back(std::move(w));
  }
  return t;
}

}  // namespace

io::Image resize_lanczos(const io::Image& img, int width, int height) {
  SD_CHECK(width > 0 && height > 0 && img.width > 0 && img.height > 0, "resize to or from an empty image");
  if (img.width == width && img.height == height) return img;
  const int C = img.channels;
  const Taps tx = make_taps(img.width, width), ty = make_taps(img.height, height);
  // Horizontal pass into floats, then vertical pass with rounding, as PIL does; streamed
  // one input row at a time into the output rows whose filter covers it, so the memory
  // is the output's whatever the input's shape. Each output sums its taps in input order,
  // the same arithmetic as a full intermediate image.
  const size_t row = size_t(width) * C;
  std::vector<float> mid(row);
  std::vector<double> acc(row * size_t(height), 0.0);
  int open = 0;  // the first output row that later input rows still reach
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < width; ++x) {
      const auto& w = tx.weights[size_t(x)];
      const int first = tx.first[size_t(x)];
      for (int c = 0; c < C; ++c) {
        double a = 0;
        for (size_t k = 0; k < w.size(); ++k) a += w[k] * img.at(first + int(k), y, c);
        mid[size_t(x) * C + c] = float(a);
      }
    }
    while (open < height && ty.first[size_t(open)] + int(ty.weights[size_t(open)].size()) <= y) ++open;
    for (int o = open; o < height && ty.first[size_t(o)] <= y; ++o) {
      const double w = ty.weights[size_t(o)][size_t(y - ty.first[size_t(o)])];
      double* out_row = &acc[size_t(o) * row];
      for (size_t i = 0; i < row; ++i) out_row[i] += w * mid[i];
    }
  }
  io::Image out;
  out.width = width;
  out.height = height;
  out.channels = C;
  out.pixels.resize(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) out.pixels[i] = uint8_t(std::clamp(std::lround(acc[i]), 0L, 255L));
  return out;
}

Tensor prepare_image(const io::Image& img, int width, int height) {
  SD_CHECK(img.channels == 3, "the input image must be RGB");
  return image_to_tensor(resize_lanczos(img, width, height));
}

Tensor mask_levels(const io::Image& mask, int width, int height) {
  io::Image m = mask;
  if (m.channels != 1) {  // PIL convert("L"): ITU-R 601-2 luma
    io::Image l;
    l.width = m.width;
    l.height = m.height;
    l.channels = 1;
    l.pixels.resize(size_t(m.width) * m.height);
    for (size_t i = 0; i < l.pixels.size(); ++i) {
      const uint8_t* p = &m.pixels[i * size_t(m.channels)];
      l.pixels[i] = m.channels >= 3 ? uint8_t((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16) : p[0];
    }
    m = std::move(l);
  }
  m = resize_lanczos(m, width, height);
  Tensor t = Tensor::empty({1, 1, height, width}, DType::F32);
  float* p = t.data<float>();
  for (size_t i = 0; i < m.pixels.size(); ++i) p[i] = float(m.pixels[i]) / 255.0f;
  return t;
}

Tensor prepare_mask(const io::Image& mask, int width, int height) {
  Tensor t = mask_levels(mask, width, height);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] >= 0.5f ? 1.0f : 0.0f;
  return t;
}

Tensor mask_out(const Tensor& image, const Tensor& mask) {
  const Tensor img = image.contiguous();
  const int64_t H = img.size(2), W = img.size(3);
  SD_CHECK(mask.size(2) == H && mask.size(3) == W, "mask and image sizes differ");
  Tensor out = img.clone();
  const float* m = mask.contiguous().data<float>();
  float* p = out.data<float>();
  for (int64_t c = 0; c < img.size(1); ++c)
    for (int64_t i = 0; i < H * W; ++i)
      if (!(m[i] < 0.5f)) p[c * H * W + i] = 0.0f;
  return out;
}

Tensor mask_to_latent_size(const Tensor& mask, int64_t h, int64_t w) {
  const Tensor m = mask.contiguous();
  const int64_t H = m.size(2), W = m.size(3);
  Tensor out = Tensor::empty({1, 1, h, w}, DType::F32);
  const float* src = m.data<float>();
  float* dst = out.data<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      dst[y * w + x] = src[std::min(H - 1, y * H / h) * W + std::min(W - 1, x * W / w)];
  return out;
}

}  // namespace sd::pipeline
