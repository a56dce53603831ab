#include "backend/cpu/convert.h"

#include <cstring>

#include "backend/cpu/simd.h"
#include "core/half.h"

namespace sd::cpu {

void load_f32(const void* src, DType t, int64_t step, float* dst, int64_t n) {
  if (step == 1) {
    if (t == DType::F32) {
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    }
    if (t == DType::BF16) {
      kernels().bf16_to_f32(static_cast<const uint16_t*>(src), dst, n);
      return;
    }
  }
  switch (t) {
    case DType::F32: {
      auto* s = static_cast<const float*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = s[i * step];
      return;
    }
    case DType::BF16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i * step]);
      return;
    }
    case DType::F16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i * step]);
      return;
    }
    default: {
      const size_t es = dtype_size(t);
      auto* s = static_cast<const char*>(src);
      for (int64_t i = 0; i < n; ++i) convert_elements(s + i * step * int64_t(es), t, dst + i, DType::F32, 1);
      return;
    }
  }
}

void store_f32(const float* src, void* dst, DType t, int64_t step, int64_t n) {
  if (step == 1) {
    if (t == DType::F32) {
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    }
    if (t == DType::BF16) {
      kernels().f32_to_bf16(src, static_cast<uint16_t*>(dst), n);
      return;
    }
  }
  switch (t) {
    case DType::F32: {
      auto* d = static_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i * step] = src[i];
      return;
    }
    case DType::BF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i * step] = f32_to_bf16(src[i]);
      return;
    }
    case DType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i * step] = f32_to_f16(src[i]);
      return;
    }
    default: {
      const size_t es = dtype_size(t);
      auto* d = static_cast<char*>(dst);
      for (int64_t i = 0; i < n; ++i) convert_elements(src + i, DType::F32, d + i * step * int64_t(es), t, 1);
      return;
    }
  }
}

}  // namespace sd::cpu
