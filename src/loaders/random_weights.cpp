#include "loaders/random_weights.h"

#include <cmath>

#include "core/error.h"
#include "core/half.h"

namespace sd::models {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

bool ends_with(const std::string& s, const char* suffix) {
  const std::string_view suf(suffix);
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// A 32-bit integer hash (the "lowbias32" finaliser): 32-bit multiplies vectorise on
// AVX2, which keeps generating billions of values a matter of seconds.
inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// Fills n values mean + half_width * u, u uniform in [-1, 1). Element i hashes (i, key)
// through two rounds with the key in both, so tensors are not shifted copies of one
// another, and the loop has no carried state: it vectorises and parallelises freely.
template <class T, class Convert>
void fill_uniform(T* out, int64_t n, uint64_t key, float mean, float half_width, Convert convert) {
  const float unit = half_width / 2147483648.f;  // int32 -> [-half_width, half_width)
  const uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
#pragma omp parallel for schedule(static) if (n > (int64_t(1) << 18))
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = mix32(mix32(uint32_t(i) * 0x9E3779B9u + k0) ^ k1);
    out[i] = convert(mean + float(int32_t(bits)) * unit);
  }
}

}  // namespace

Tensor RandomWeights::fetch(const std::string& name, const Shape& shape, DType dtype) const {
  // Uniform on [-a, a] has std a/sqrt(3).
  const float sqrt3 = std::sqrt(3.f);
  float mean = 0.f, std = 0.f;
  if (ends_with(name, ".bias")) {
    std = 0.02f;
  } else if (shape.size() == 1) {  // a norm's scale
    mean = 1.f;
    std = 0.05f;
  } else {
    const int64_t fan_in = shape.product() / shape[0];
    std = 1.f / std::sqrt(float(fan_in));
  }
  const uint64_t key = splitmix64(seed_ ^ fnv1a(name));
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  switch (dtype) {
    case DType::F32:
      fill_uniform(t.data<float>(), n, key, mean, std * sqrt3, [](float v) { return v; });
      break;
    case DType::BF16:
      fill_uniform(t.data<bf16_t>(), n, key, mean, std * sqrt3, [](float v) { return bf16_t{f32_to_bf16(v)}; });
      break;
    case DType::F16:
      fill_uniform(t.data<f16_t>(), n, key, mean, std * sqrt3, [](float v) { return f16_t{f32_to_f16(v)}; });
      break;
    default:
      throw Error(describe() + ": cannot generate tensor \"" + name + "\" as " + std::string(dtype_name(dtype)));
  }
  return t;
}

}  // namespace sd::models
