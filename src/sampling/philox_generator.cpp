#include "sampling/philox_generator.h"

#include <array>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace sd::sampling {

namespace {

using Words = std::array<uint32_t, 4>;

constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

Words philox4x32_10(Words c, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    const uint64_t p0 = uint64_t(c[0]) * kMul0;
    const uint64_t p1 = uint64_t(c[2]) * kMul1;
    c = {uint32_t(p1 >> 32) ^ c[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k1, uint32_t(p0)};
  }
  return c;
}

// A1111's Box-Muller: float32 constants, arithmetic in double (numpy promotes uint32 x
// float32 to float64), one value per pair.
float box_muller(uint32_t x, uint32_t y) {
  const double a = double(2.3283064e-10f);
  const double b = double(float(2.3283064e-10 * 6.2831855));
  const double u = double(x) * a + double(float(a) / 2.0f);
  const double v = double(y) * b + double(float(b) / 2.0f);
  return float(std::sqrt(-2.0 * std::log(u)) * std::sin(v));
}

}  // namespace

Tensor PhiloxGenerator::randn(const Shape& shape) {
  const int64_t n = shape.product();
  // The element index is the counter's third word: one call covers at most 2^32 values.
  SD_CHECK(n <= int64_t(UINT32_MAX), "randn of " + shape.str() + " exceeds the Philox counter");
  const uint32_t k0 = uint32_t(seed_), k1 = uint32_t(seed_ >> 32);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const Words r = philox4x32_10({offset_, 0, uint32_t(i), 0}, k0, k1);
    v[size_t(i)] = box_muller(r[0], r[1]);
  }
  ++offset_;
  return Tensor::from_floats(v, shape);
}

}  // namespace sd::sampling
