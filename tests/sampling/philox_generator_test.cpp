// The GPU-seed generator against torch.randn on CUDA as A1111 reproduces it
// (rng/philox_randn.safetensors): every tensor must match bit for bit.
#include <gtest/gtest.h>

#include <string>

#include "io/safetensors.h"
#include "sampling/philox_generator.h"
#include "support/test_support.h"

namespace sd::sampling {
namespace {

io::SafetensorsFile philox_file() {
  return io::SafetensorsFile::open(test::fixtures_dir() + "/rng/philox_randn.safetensors");
}

// The first call of a fresh generator, for seeds that exercise both key words
// (4294967303 = 2^32 + 7: the high word is 1).
TEST(PhiloxGenerator, EveryStoredSeedIsBitExact) {
  auto f = philox_file();
  for (uint64_t seed : {0ull, 1ull, 42ull, 123456789ull, 4294967295ull, 4294967303ull}) {
    const std::string key = "seed" + std::to_string(seed) + ".1x4x64x64";
    Tensor ref = f.load(key, DType::F32);
    PhiloxGenerator gen(seed);
    Tensor got = gen.randn(ref.shape());
    EXPECT_EQ(test::bit_mismatches(got, ref), 0) << key << ": " << test::max_abs_diff(got, ref);
  }
  for (const char* key : {"seed0.3x4", "seed42.2x4x96x128"}) {
    Tensor ref = f.load(key, DType::F32);
    PhiloxGenerator gen(std::stoull(std::string(key).substr(4)));
    EXPECT_EQ(test::bit_mismatches(gen.randn(ref.shape()), ref), 0) << key;
  }
}

// The published CUDA values of torch.manual_seed(0); torch.randn(3, 4, device="cuda"). CUDA's
// Box-Muller runs in float, A1111's (the stored references) in double: they agree to a few ulp.
TEST(PhiloxGenerator, KnownCudaValuesOfSeedZero) {
  PhiloxGenerator gen(0);
  auto v = gen.randn({3, 4}).to_floats();
  const float cuda[] = {-0.92466259f, -0.42534415f, -2.6438457f, 0.14518388f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(v[size_t(i)], cuda[i], 1e-6) << i;
}

// Each call advances the counter's offset, so consecutive calls differ and continue torch's stream.
TEST(PhiloxGenerator, ConsecutiveCallsAdvanceTheOffset) {
  auto f = philox_file();
  PhiloxGenerator gen(42);
  for (const char* key : {"seed42.call0.1x4x8x8", "seed42.call1.1x4x8x8", "seed42.call2.1x4x8x8"}) {
    Tensor ref = f.load(key, DType::F32);
    EXPECT_EQ(test::bit_mismatches(gen.randn(ref.shape()), ref), 0) << key;
  }
}

}  // namespace
}  // namespace sd::sampling
