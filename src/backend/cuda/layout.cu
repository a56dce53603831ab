#include <algorithm>

#include "backend/cuda/check.h"
#include "backend/cuda/elem.cuh"
#include "backend/cuda/layout.h"

namespace sd::cuda {

namespace {

template <class T>
__global__ void concat_kernel(const T* a, int64_t ca, const T* b, int64_t cb, T* y, int64_t total) {
  const int64_t c = ca + cb;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i / c, ch = i % c;
    y[i] = ch < ca ? a[p * ca + ch] : b[p * cb + ch - ca];
  }
}

template <class T>
__global__ void upsample_kernel(const T* x, T* y, int64_t h, int64_t w, int64_t c, int factor, int64_t total) {
  const int64_t ow = w * factor, oh = h * factor;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = i % c, ox = (i / c) % ow, oy = (i / (c * ow)) % oh, n = i / (c * ow * oh);
    y[i] = x[((n * h + oy / factor) * w + ox / factor) * c + ch];
  }
}

template <class T>
__global__ void write_phase_kernel(const T* phase, T* out, int64_t h, int64_t w, int64_t c, int dy, int dx,
                                   int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = i % c, x = (i / c) % w, y = (i / (c * w)) % h, n = i / (c * w * h);
    out[((n * 2 * h + 2 * y + dy) * 2 * w + 2 * x + dx) * c + ch] = phase[i];
  }
}

// Tiled transpose of each image's [rows, cols] matrix through shared memory, so both the
// reads and the writes are coalesced. Row tiles beyond the grid's 65535 are walked in a loop
// (a 2048x2048 image has 4M pixel rows).
template <class T>
__global__ void transpose_kernel(const T* x, T* y, int64_t rows, int64_t cols) {
  __shared__ T tile[32][33];
  const int64_t img = blockIdx.z;
  const T* src = x + img * rows * cols;
  T* dst = y + img * rows * cols;
  const int64_t c0 = int64_t(blockIdx.x) * 32;
  for (int64_t r0 = int64_t(blockIdx.y) * 32; r0 < rows; r0 += int64_t(gridDim.y) * 32) {
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
      const int64_t r = r0 + k, col = c0 + threadIdx.x;
      if (r < rows && col < cols) tile[k][threadIdx.x] = src[r * cols + col];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
      const int64_t col = c0 + k, r = r0 + threadIdx.x;
      if (r < rows && col < cols) dst[col * rows + r] = tile[threadIdx.x][k];
    }
    __syncthreads();  // the tile is refilled by the next row tile
  }
}

void transpose(Context& ctx, const void* x, void* y, int64_t n, int64_t rows, int64_t cols, DType dt) {
  if (n <= 0 || rows <= 0 || cols <= 0) return;
  SD_CHECK(n <= 65535 && (cols + 31) / 32 <= 0x7fffffff, "transpose too large");
  const dim3 grid(unsigned((cols + 31) / 32), unsigned(std::min<int64_t>((rows + 31) / 32, 65535)), unsigned(n));
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    transpose_kernel<T><<<grid, dim3(32, 8), 0, ctx.stream()>>>(static_cast<const T*>(x), static_cast<T*>(y), rows,
                                                                 cols);
  });
  SD_CUDA_CHECK_LAUNCH();
}

}  // namespace

void concat_channels(Context& ctx, const void* a, int64_t ca, const void* b, int64_t cb, void* y, int64_t pixels,
                     DType dt) {
  const int64_t total = pixels * (ca + cb);
  if (total <= 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    concat_kernel<T><<<grid_for(total), 256, 0, ctx.stream()>>>(static_cast<const T*>(a), ca,
                                                                static_cast<const T*>(b), cb, static_cast<T*>(y), total);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void upsample_nearest(Context& ctx, const void* x, void* y, int64_t n, int64_t h, int64_t w, int64_t c, int factor,
                      DType dt) {
  SD_CHECK(factor >= 1, "upsample factor must be positive");
  const int64_t total = n * h * factor * w * factor * c;
  if (total <= 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    upsample_kernel<T><<<grid_for(total), 256, 0, ctx.stream()>>>(static_cast<const T*>(x), static_cast<T*>(y), h, w,
                                                                  c, factor, total);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void write_phase(Context& ctx, const void* phase, void* out, int64_t n, int64_t h, int64_t w, int64_t c, int dy,
                 int dx, DType dt) {
  SD_CHECK((dy == 0 || dy == 1) && (dx == 0 || dx == 1), "phase offsets are 0 or 1");
  const int64_t total = n * h * w * c;
  if (total <= 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    write_phase_kernel<T><<<grid_for(total), 256, 0, ctx.stream()>>>(static_cast<const T*>(phase), static_cast<T*>(out),
                                                                     h, w, c, dy, dx, total);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void nchw_to_nhwc(Context& ctx, const void* x, void* y, int64_t n, int64_t c, int64_t pixels, DType dt) {
  transpose(ctx, x, y, n, c, pixels, dt);
}

void nhwc_to_nchw(Context& ctx, const void* x, void* y, int64_t n, int64_t c, int64_t pixels, DType dt) {
  transpose(ctx, x, y, n, pixels, c, dt);
}

}  // namespace sd::cuda
