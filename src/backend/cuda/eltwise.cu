#include "backend/cuda/check.h"
#include "backend/cuda/elem.cuh"
#include "backend/cuda/eltwise.h"

namespace sd::cuda {

namespace {

template <class T>
__global__ void activation_kernel(const T* x, T* y, int64_t n, Act act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f32<T>(apply_act(to_f32(x[i]), act));
}

template <class T>
__global__ void binary_kernel(const T* a, const T* b, T* y, int64_t n, int64_t mid, int64_t inner, BinaryOp op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i / (mid * inner), c = i % inner;
    const float av = to_f32(a[i]), bv = to_f32(b[o * inner + c]);
    y[i] = from_f32<T>(op == BinaryOp::Add ? av + bv : av * bv);
  }
}

template <class T>
__global__ void axpby_kernel(const T* a, float sa, const T* b, float sb, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float v = to_f32(a[i]) * sa;
    if (b) v += to_f32(b[i]) * sb;
    y[i] = from_f32<T>(v);
  }
}

template <class T>
__global__ void bias_act_residual_kernel(const T* x, const T* bias, const T* residual, T* y, int64_t n,
                                         int64_t channels, Act act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float v = to_f32(x[i]);
    if (bias) v += to_f32(bias[i % channels]);
    v = apply_act(v, act);
    if (residual) v += to_f32(residual[i]);
    y[i] = from_f32<T>(v);
  }
}

template <class T>
__global__ void geglu_kernel(const T* x, T* y, int64_t n, int64_t features) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / features, f = i % features;
    const T* row = x + r * 2 * features;
    y[i] = from_f32<T>(to_f32(row[f]) * gelu_erf(to_f32(row[features + f])));
  }
}

template <class S, class D>
__global__ void convert_kernel(const S* src, D* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = from_f32<D>(to_f32(src[i]));
}

}  // namespace

void activation(Context& ctx, const void* x, void* y, int64_t n, DType dt, Act act) {
  if (n <= 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    activation_kernel<T><<<grid_for(n), 256, 0, ctx.stream()>>>(static_cast<const T*>(x), static_cast<T*>(y), n, act);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void binary(Context& ctx, const void* a, const void* b, void* y, int64_t outer, int64_t mid, int64_t inner,
            DType dt, BinaryOp op) {
  const int64_t n = outer * mid * inner;
  if (n <= 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    binary_kernel<T><<<grid_for(n), 256, 0, ctx.stream()>>>(static_cast<const T*>(a), static_cast<const T*>(b),
                                                            static_cast<T*>(y), n, mid, inner, op);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void axpby(Context& ctx, const void* a, float sa, const void* b, float sb, void* y, int64_t n, DType dt) {
  if (n <= 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    axpby_kernel<T><<<grid_for(n), 256, 0, ctx.stream()>>>(static_cast<const T*>(a), sa, static_cast<const T*>(b),
                                                           sb, static_cast<T*>(y), n);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void bias_act_residual(Context& ctx, const void* x, const void* bias, const void* residual, void* y,
                       int64_t rows, int64_t channels, DType dt, Act act) {
  const int64_t n = rows * channels;
  if (n <= 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    bias_act_residual_kernel<T><<<grid_for(n), 256, 0, ctx.stream()>>>(
        static_cast<const T*>(x), static_cast<const T*>(bias), static_cast<const T*>(residual), static_cast<T*>(y), n, channels, act);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void geglu(Context& ctx, const void* x, void* y, int64_t rows, int64_t features, DType dt) {
  const int64_t n = rows * features;
  if (n <= 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    geglu_kernel<T><<<grid_for(n), 256, 0, ctx.stream()>>>(static_cast<const T*>(x), static_cast<T*>(y), n, features);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void convert(Context& ctx, const void* src, DType src_dt, void* dst, DType dst_dt, int64_t n) {
  if (n <= 0) return;
  dispatch_float(src_dt, [&](auto s) {
    using S = decltype(s);
    dispatch_float(dst_dt, [&](auto d) {
      using D = decltype(d);
      convert_kernel<S, D><<<grid_for(n), 256, 0, ctx.stream()>>>(static_cast<const S*>(src), static_cast<D*>(dst), n);
    });
  });
  SD_CUDA_CHECK_LAUNCH();
}

}  // namespace sd::cuda
