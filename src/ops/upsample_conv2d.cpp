// ops::UpsampleConv2d: nearest 2x upsampling + 3x3 convolution as four 2x2 convolutions.
//
// Output row 2i+dy of conv3x3(upsample(x)) reads upsampled rows 2i+dy-1 .. 2i+dy+1, which
// are input rows {i-1, i, i} for dy = 0 and {i, i, i+1} for dy = 1. So the even rows see
// input rows (i-1, i) with kernel rows (w0, w1+w2), padded one row on top, and the odd
// rows see (i, i+1) with (w0+w1, w2), padded one row below; columns likewise. The zero
// padding of the upsampled image is exactly the zero padding of the input.
#include "core/error.h"
#include "ops/dispatch.h"
#include "ops/flop_count.h"
#include "ops/ops.h"

namespace sd::ops {

namespace {

// For output parity p and 2x2 tap a: the first and last 3x3 tap summed into it.
constexpr int kTapFirst[2][2] = {{0, 1}, {0, 2}};
constexpr int kTapLast[2][2] = {{0, 2}, {1, 2}};

// Sum of a 3x3 kernel's taps in rows Y0..Y1 and columns X0..X1, row by row.
template <int Y0, int Y1, int X0, int X1>
float taps(const float* w) {
  float sum = 0.f;
  for (int y = Y0; y <= Y1; ++y)
    for (int x = X0; x <= X1; ++x) sum += w[y * 3 + x];
  return sum;
}

// The 2x2 kernel of output parity (DY, DX) from one 3x3 kernel: all bounds are constants,
// so this is straight-line code (a VAE builds 4 x 4 x 590k of these at each load).
template <int DY, int DX>
void phase_taps(const float* w, float* k) {
  k[0] = taps<kTapFirst[DY][0], kTapLast[DY][0], kTapFirst[DX][0], kTapLast[DX][0]>(w);
  k[1] = taps<kTapFirst[DY][0], kTapLast[DY][0], kTapFirst[DX][1], kTapLast[DX][1]>(w);
  k[2] = taps<kTapFirst[DY][1], kTapLast[DY][1], kTapFirst[DX][0], kTapLast[DX][0]>(w);
  k[3] = taps<kTapFirst[DY][1], kTapLast[DY][1], kTapFirst[DX][1], kTapLast[DX][1]>(w);
}

// The four phase kernels [dy][dx] ([O, I, 2, 2] each), in one pass over w [O, I, 3, 3].
void phase_kernels(const Tensor& w, Tensor (&k)[2][2]) {
  for (auto& row : k)
    for (Tensor& t : row) t = Tensor::empty({w.size(0), w.size(1), 2, 2}, DType::F32);
  const float* src = w.data<float>();
  float* k00 = k[0][0].data<float>();
  float* k01 = k[0][1].data<float>();
  float* k10 = k[1][0].data<float>();
  float* k11 = k[1][1].data<float>();
  const int64_t count = w.size(0) * w.size(1);
  for (int64_t i = 0; i < count; ++i) {
    const float* t = src + i * 9;
    phase_taps<0, 0>(t, k00 + i * 4);
    phase_taps<0, 1>(t, k01 + i * 4);
    phase_taps<1, 0>(t, k10 + i * 4);
    phase_taps<1, 1>(t, k11 + i * 4);
  }
}

}  // namespace

UpsampleConv2d::UpsampleConv2d(const Tensor& weight, const Tensor& bias, DType dtype) {
  SD_CHECK(weight.ndim() == 4 && weight.size(2) == 3 && weight.size(3) == 3,
           "UpsampleConv2d weight must be [O, I, 3, 3], got " + weight.desc());
  const Tensor w = to_layout(to_dtype(weight, DType::F32), MemoryFormat::Contiguous);
  Tensor kernels[2][2];
  phase_kernels(w, kernels);
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx)
      phases_[dy][dx] = Conv2d(to_dtype(kernels[dy][dx], dtype), bias,
                               Conv2dOptions{1, dy == 0 ? 1 : 0, dx == 0 ? 1 : 0, dy, dx});
}

Tensor UpsampleConv2d::forward(const Tensor& x) const {
  SD_CHECK(defined(), "UpsampleConv2d used before it was given weights");
  SD_CHECK(x.ndim() == 4, "UpsampleConv2d needs [N, I, H, W], got " + x.desc());
  Tensor out;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const Tensor y = phases_[dy][dx].forward(x);
      if (!out.defined())
        out = Tensor::empty({y.size(0), y.size(1), 2 * y.size(2), 2 * y.size(3)}, y.dtype(),
                            MemoryFormat::ChannelsLast, y.device());
      backend_of(y).write_phase(y, out, dy, dx);
    }
  // The phases counted 4 of the 9 taps; the rest is counted as well so that, as with
  // Winograd, a benchmark relates time to the arithmetic of the operation it replaces.
  // Attributed like the phases' own count (all of them ran in one dtype).
  const bool bf16 = x.dtype() == DType::BF16 && out.dtype() == DType::BF16;
  count_flops(2.0 * double(out.numel()) * double(phases_[0][0].in_channels() * 5), bf16 ? DType::BF16 : DType::F32);
  return out;
}

}  // namespace sd::ops
