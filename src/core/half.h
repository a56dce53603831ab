#pragma once
// Scalar conversions between float32 and the two 16-bit float formats, and bulk
// conversion between any two element types. Rounding is to nearest even, as torch does.
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace sd {

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// A select, not a branch, so bulk conversions vectorise.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x40u;
  return uint16_t((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

// Branch-free (masks only), so bulk conversions vectorise: exponent and mantissa move
// into place and are rebiased; infinities and NaNs get the top exponent; subnormals come
// out normalised by one exact float subtraction.
inline float f16_to_f32(uint16_t h) {
  const uint32_t shifted = uint32_t(h & 0x7fffu) << 13;
  const uint32_t exp = shifted & 0x0f800000u;
  const uint32_t normal = shifted + ((127u - 15u) << 23);
  const uint32_t inf_nan = normal + ((128u - 16u) << 23);
  const uint32_t sub_bits = normal + (1u << 23);
  float sub;
  std::memcpy(&sub, &sub_bits, 4);
  sub -= 6.103515625e-05f;  // 2^-14
  uint32_t sub_u;
  std::memcpy(&sub_u, &sub, 4);
  const uint32_t is_inf_nan = 0u - uint32_t(exp == 0x0f800000u), is_sub = 0u - uint32_t(exp == 0);
  uint32_t u = (normal & ~(is_inf_nan | is_sub)) | (inf_nan & is_inf_nan) | (sub_u & is_sub);
  u |= uint32_t(h & 0x8000u) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
  if (absu >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // overflow to inf
  if (absu < 0x38800000u) {                                   // subnormal or zero
    if (absu < 0x33000000u) return uint16_t(sign);
    uint32_t exp = absu >> 23;
    uint32_t mant = (absu & 0x7fffffu) | 0x800000u;
    uint32_t sh = 126 - exp;  // value / 2^-24 = mant * 2^(exp-126); 14 <= sh <= 24
    uint32_t q = mant >> sh;
    uint32_t rem = mant & ((1u << sh) - 1);
    uint32_t half = 1u << (sh - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t r = absu - 0x38000000u;  // rebias exponent 127 -> 15
  uint32_t q = r >> 13;
  uint32_t rem = r & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (q & 1))) ++q;
  return uint16_t(sign | q);
}

// Converts n elements from src (type s) to dst (type d). Integer targets truncate toward
// zero like a C cast. Source and destination must not overlap unless identical.
void convert_elements(const void* src, DType s, void* dst, DType d, size_t n);

}  // namespace sd
