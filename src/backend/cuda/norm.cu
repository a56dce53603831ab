#include <algorithm>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/check.h"
#include "backend/cuda/elem.cuh"
#include "backend/cuda/norm.h"

namespace sd::cuda {

namespace {

// Running statistics of a set of values, merged pairwise (Chan et al.), so a group's
// variance does not suffer the cancellation of E[x^2] - E[x]^2.
struct Moments {
  float count, mean, m2;
};

__device__ __forceinline__ Moments merge(Moments a, Moments b) {
  const float n = a.count + b.count;
  if (n == 0.f) return a;
  const float d = b.mean - a.mean, wb = b.count / n;
  return {n, a.mean + d * wb, a.m2 + b.m2 + d * d * a.count * wb};
}

__device__ __forceinline__ Moments warp_merge(Moments m) {
  for (int off = 16; off > 0; off >>= 1) {
    Moments o{__shfl_xor_sync(0xffffffffu, m.count, off), __shfl_xor_sync(0xffffffffu, m.mean, off),
              __shfl_xor_sync(0xffffffffu, m.m2, off)};
    m = merge(m, o);
  }
  return m;
}

// Merges the moments of every thread of the block; the result is valid in every thread.
__device__ Moments block_merge(Moments m) {
  __shared__ Moments warps[32];
  __shared__ Moments total;
  m = warp_merge(m);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warps[warp] = m;
  __syncthreads();
  if (warp == 0) {
    const int nwarps = (blockDim.x + 31) >> 5;
    Moments w = lane < nwarps ? warps[lane] : Moments{0.f, 0.f, 0.f};
    w = warp_merge(w);
    if (lane == 0) total = w;
  }
  __syncthreads();
  return total;
}

// Block (group gi = n * groups + g, split s) reduces its share of the group's
// pixels x channels-per-group values into partial[gi * splits + s].
template <class T>
__global__ void group_moments_kernel(const T* x, Moments* partial, int64_t pixels, int64_t channels, int groups,
                                     int splits) {
  const int gi = blockIdx.x, s = blockIdx.y;
  const int64_t n = gi / groups, g = gi % groups, cpg = channels / groups;
  const int64_t total = pixels * cpg, per = (total + splits - 1) / splits;
  const int64_t begin = s * per, end = min(total, begin + per);
  const T* base = x + n * pixels * channels + g * cpg;
  Moments m{0.f, 0.f, 0.f};
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const float v = to_f32(base[(j / cpg) * channels + j % cpg]);
    m.count += 1.f;  // Welford's update
    const float d = v - m.mean;
    m.mean += d / m.count;
    m.m2 += d * (v - m.mean);
  }
  m = block_merge(m);
  if (threadIdx.x == 0) partial[gi * splits + s] = m;
}

// One thread per group: mean and 1/sqrt(var + eps) from the splits' partial moments.
__global__ void group_stats_kernel(const Moments* partial, float2* stats, int count, int splits, float eps) {
  const int gi = blockIdx.x * blockDim.x + threadIdx.x;
  if (gi >= count) return;
  Moments m{0.f, 0.f, 0.f};
  for (int s = 0; s < splits; ++s) m = merge(m, partial[gi * splits + s]);
  stats[gi] = make_float2(m.mean, rsqrtf(m.m2 / m.count + eps));
}

template <class T>
__global__ void group_apply_kernel(const T* x, T* y, const float2* stats, const float* gamma, const float* beta,
                                   int64_t total, int64_t pixels, int64_t channels, int groups, bool silu) {
  const int64_t cpg = channels / groups;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % channels, n = i / (pixels * channels);
    const float2 st = stats[n * groups + c / cpg];
    float v = (to_f32(x[i]) - st.x) * st.y;
    if (gamma) v *= gamma[c];
    if (beta) v += beta[c];
    if (silu) v = v / (1.f + __expf(-v));
    y[i] = from_f32<T>(v);
  }
}

// One block per row: moments over the row, then the normalised row.
template <class T>
__global__ void layer_norm_kernel(const T* x, T* y, int64_t channels, const float* gamma, const float* beta,
                                  float eps) {
  const T* row = x + blockIdx.x * channels;
  T* out = y + blockIdx.x * channels;
  Moments m{0.f, 0.f, 0.f};
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) {
    const float v = to_f32(row[c]);
    m.count += 1.f;
    const float d = v - m.mean;
    m.mean += d / m.count;
    m.m2 += d * (v - m.mean);
  }
  m = block_merge(m);
  const float rstd = rsqrtf(m.m2 / m.count + eps);
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) {
    float v = (to_f32(row[c]) - m.mean) * rstd;
    if (gamma) v *= gamma[c];
    if (beta) v += beta[c];
    out[c] = from_f32<T>(v);
  }
}

template <class T>
__global__ void softmax_kernel(const T* x, T* y, int64_t channels) {
  const T* row = x + blockIdx.x * channels;
  T* out = y + blockIdx.x * channels;
  float mx = -INFINITY;
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) mx = fmaxf(mx, to_f32(row[c]));
  mx = block_reduce(mx, true);
  float sum = 0.f;
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) sum += __expf(to_f32(row[c]) - mx);
  const float inv = 1.f / block_reduce(sum, false);
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) out[c] = from_f32<T>(__expf(to_f32(row[c]) - mx) * inv);
}

}  // namespace

void group_norm(Context& ctx, const void* x, void* y, int64_t n, int64_t pixels, int64_t channels, int groups,
                const float* gamma, const float* beta, float eps, bool silu, DType dt) {
  SD_CHECK(groups > 0 && channels % groups == 0, "channels must divide into groups");
  const int64_t total = n * pixels * channels;
  if (total <= 0) return;
  const int count = int(n * groups);
  // Enough blocks to fill the GPU whatever the batch: about 4 per multiprocessor, none
  // with fewer than 4096 values to reduce.
  const int64_t per_group = pixels * (channels / groups);
  int64_t splits = (4 * ctx.info().multiprocessors + count - 1) / count;
  splits = std::max<int64_t>(1, std::min<int64_t>({splits, per_group / 4096, 256}));
  DeviceBuffer partial = ctx.buffer(sizeof(Moments) * count * splits);
  DeviceBuffer stats = ctx.buffer(sizeof(float2) * count);
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    group_moments_kernel<T><<<dim3(count, unsigned(splits)), 256, 0, ctx.stream()>>>(
        static_cast<const T*>(x), partial.as<Moments>(), pixels, channels, groups, int(splits));
    SD_CUDA_CHECK_LAUNCH();
    group_stats_kernel<<<(count + 127) / 128, 128, 0, ctx.stream()>>>(partial.as<Moments>(), stats.as<float2>(), count,
                                                                      int(splits), eps);
    SD_CUDA_CHECK_LAUNCH();
    group_apply_kernel<T><<<grid_for(total), 256, 0, ctx.stream()>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                                     stats.as<float2>(), gamma, beta, total, pixels,
                                                                     channels, groups, silu);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void layer_norm(Context& ctx, const void* x, void* y, int64_t rows, int64_t channels, const float* gamma,
                const float* beta, float eps, DType dt) {
  if (rows <= 0 || channels <= 0) return;
  SD_CHECK(rows <= 0x7fffffff, "too many rows");
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    layer_norm_kernel<T><<<unsigned(rows), 256, 0, ctx.stream()>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                                    channels, gamma, beta, eps);
  });
  SD_CUDA_CHECK_LAUNCH();
}


void softmax(Context& ctx, const void* x, void* y, int64_t rows, int64_t channels, DType dt) {
  if (rows <= 0 || channels <= 0) return;
  SD_CHECK(rows <= 0x7fffffff, "too many rows");
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    softmax_kernel<T><<<unsigned(rows), 256, 0, ctx.stream()>>>(static_cast<const T*>(x), static_cast<T*>(y), channels);
  });
  SD_CUDA_CHECK_LAUNCH();
}

}  // namespace sd::cuda
