#pragma once
// Device-side helpers shared by the kernels: element types as float32 (all arithmetic is
// float32; 16-bit types are storage only), the activation functions, and a dispatch from
// sd::DType to the element type a kernel template is instantiated for.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backend/cuda/act.h"
#include "core/dtype.h"
#include "core/error.h"

namespace sd::cuda {

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float apply_act(float x, Act act) {
  switch (act) {
    case Act::None: return x;
    case Act::SiLU: return x / (1.f + __expf(-x));
    case Act::GELU: return gelu_erf(x);
    case Act::GELUTanh: {
      const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.f + tanhf(u));
    }
    case Act::QuickGELU: return x / (1.f + __expf(-1.702f * x));
    case Act::ReLU: return fmaxf(x, 0.f);
    case Act::Tanh: return tanhf(x);
  }
  return x;
}

// Calls fn(T{}) with T the element type of `dt` (F32, F16 or BF16).
template <class Fn>
void dispatch_float(DType dt, Fn&& fn) {
  switch (dt) {
    case DType::F32: fn(float{}); return;
    case DType::F16: fn(__half{}); return;
    case DType::BF16: fn(__nv_bfloat16{}); return;
    default: throw Error(std::string("CUDA kernels take f32, f16 or bf16, not ") + std::string(dtype_name(dt)));
  }
}

// A 1-D launch covering n elements with grid-stride loops (grid capped, so huge n is fine).
inline unsigned grid_for(int64_t n, int threads = 256) {
  const int64_t blocks = (n + threads - 1) / threads;
  return unsigned(blocks < 1 ? 1 : (blocks > 65535 * 4 ? 65535 * 4 : blocks));
}

}  // namespace sd::cuda
