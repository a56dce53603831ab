#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/buffer_pool.h"
#include "core/half.h"
#include "core/tensor.h"

namespace sd {
namespace {

TEST(Tensor, ChannelsLastRoundTripKeepsValues) {
  std::vector<float> v(2 * 3 * 4 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  Tensor a = Tensor::from_floats(v, {2, 3, 4, 5});
  Tensor cl = a.contiguous(MemoryFormat::ChannelsLast);
  EXPECT_TRUE(cl.is_channels_last());
  EXPECT_FALSE(cl.is_contiguous());
  // element (n=1,c=2,h=3,w=4) sits at NHWC offset ((1*4+3)*5+4)*3+2
  EXPECT_EQ(cl.data<float>()[((1 * 4 + 3) * 5 + 4) * 3 + 2], float(((1 * 3 + 2) * 4 + 3) * 5 + 4));
  EXPECT_EQ(cl.contiguous().to_floats(), v);
}

TEST(Tensor, NarrowSelectPermuteAreViews) {
  std::vector<float> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  Tensor a = Tensor::from_floats(v, {2, 3, 4});
  Tensor n = a.narrow(2, 1, 2);
  EXPECT_TRUE(n.shares_storage(a));
  EXPECT_EQ(n.shape(), Shape({2, 3, 2}));
  EXPECT_EQ(n.contiguous().to_floats()[0], 1.f);
  Tensor s = a.select(0, 1);
  EXPECT_EQ(s.shape(), Shape({3, 4}));
  EXPECT_EQ(s.to_floats()[0], 12.f);
  Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), Shape({4, 2, 3}));
  EXPECT_EQ(p.contiguous().to_floats()[1], 4.f);  // p[0,0,1] = a[0,1,0]
  EXPECT_THROW(a.narrow(1, 2, 2), Error);
  EXPECT_THROW(p.reshape({24}), Error);
  EXPECT_EQ(a.reshape({-1, 6}).shape(), Shape({4, 6}));
}

TEST(Tensor, DtypeConversionsRoundToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3.0f / 256), 0x3f82);
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(65504.f), 0x7bff);
  EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -25)), 0x0000);  // tie rounds to even (0)
  EXPECT_EQ(f32_to_f16(std::ldexp(3.f, -25)), 0x0002);
  for (uint32_t h = 0; h < 0x7c00; ++h) EXPECT_EQ(f32_to_f16(f16_to_f32(uint16_t(h))), h);
  Tensor a = Tensor::from_floats({1.5f, -2.25f, 3e-3f}, {3});
  Tensor b = a.to(DType::BF16).to(DType::F32);
  EXPECT_EQ(b.to_floats()[1], -2.25f);
}

// The bulk conversion (AVX-512 where the CPU has it) gives f32_to_bf16's bits for every
// kind of value: ties, subnormals, infinities, quiet and signalling NaNs, and random
// patterns, at lengths that leave a remainder for the scalar tail.
TEST(Tensor, BulkFloat32ToBf16IsTheScalarRounding) {
  std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x3f808000u, 0x3f818000u,
                                0x3f80ffffu, 0x7f7fffffu, 0x7f800000u, 0xff800000u, 0x7f800001u, 0x7fc00000u,
                                0xffbfffffu, 0x7fff8000u, 0x00ff8000u, 0x3f7fffffu};
  uint32_t x = 12345;
  while (bits.size() < 100003) {
    x = x * 1664525u + 1013904223u;
    bits.push_back(x);
  }
  std::vector<float> in(bits.size());
  std::memcpy(in.data(), bits.data(), bits.size() * 4);
  for (size_t n : {size_t(15), size_t(16), bits.size()}) {
    std::vector<uint16_t> out(n);
    convert_elements(in.data(), DType::F32, out.data(), DType::BF16, n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], f32_to_bf16(in[i])) << std::hex << bits[i];
  }
}

// Every half value decodes exactly (zeros, subnormals, normals, infinities, NaN payloads),
// and half to bf16 rounds the exact value once.
TEST(Tensor, EveryHalfValueDecodesExactly) {
  std::vector<uint16_t> all(0x10000);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    all[h] = uint16_t(h);
    const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    const float sign = (h & 0x8000) ? -1.f : 1.f;
    const float f = f16_to_f32(uint16_t(h));
    if (exp == 31 && mant == 0) {
      EXPECT_EQ(f, sign * INFINITY) << h;
    } else if (exp == 31) {
      uint32_t u;
      std::memcpy(&u, &f, 4);
      EXPECT_EQ(u, ((h & 0x8000u) << 16) | 0x7f800000u | (mant << 13)) << h;
    } else {
      const float want = sign * (exp == 0 ? std::ldexp(float(mant), -24) : std::ldexp(float(mant | 0x400), int(exp) - 25));
      ASSERT_EQ(f, want) << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    }
  }
  std::vector<uint16_t> bf(all.size());
  convert_elements(all.data(), DType::F16, bf.data(), DType::BF16, all.size());
  for (uint32_t h = 0; h < 0x10000; ++h) ASSERT_EQ(bf[h], f32_to_bf16(f16_to_f32(uint16_t(h)))) << h;
}

TEST(BufferPool, ReusesFreedBlocks) {
  auto before = BufferPool::instance().stats().allocations;
  { Tensor t = Tensor::empty({1 << 20}, DType::F32); }
  { Tensor t = Tensor::empty({1 << 20}, DType::F32); }
  EXPECT_EQ(BufferPool::instance().stats().allocations, before + 1);
}

// A cached block evicted for a request of another size is remapped to it (grown, then
// shrunk here), and the whole new block is usable memory. It stays on a 2 MB boundary:
// moved anywhere else, its huge pages would be split into 4 KB ones (2-3x slower
// convolutions over weights kept in such blocks).
TEST(BufferPool, EvictedBlocksServeOtherSizes) {
  // Sizes off the 2 MB grid, as real tensors' are, so that no move lands aligned by chance.
  for (int64_t mb : {64, 128, 40}) {
    Tensor t = Tensor::empty({(mb << 20) + mb * 4096}, DType::U8);
    auto* p = static_cast<uint8_t*>(t.raw_data());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (size_t(2) << 20), 0u) << mb << " MB";
    const size_t n = size_t(t.nbytes());
    for (size_t i = 0; i < n; i += 4096) p[i] = uint8_t(i >> 12);
    p[n - 1] = 0x5a;
    for (size_t i = 0; i < n; i += 4096) ASSERT_EQ(p[i], uint8_t(i >> 12)) << mb << " MB at " << i;
    EXPECT_EQ(p[n - 1], 0x5a);
  }
}

// Large blocks start on a 2 MB boundary, so transparent huge pages can cover them (a
// mapping of a size that is not a multiple of 2 MB is not aligned by the kernel); the
// trimmed mapping around them leaves the whole block usable.
TEST(BufferPool, LargeBlocksAre2MbAligned) {
  for (size_t bytes : {(size_t(5) << 20) + 12288, (size_t(37) << 20) + 4096, size_t(2) << 20}) {
    size_t capacity = 0;
    auto* p = static_cast<uint8_t*>(BufferPool::instance().acquire(bytes, &capacity));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (size_t(2) << 20), 0u) << bytes;
    for (size_t i = 0; i < capacity; i += 4096) p[i] = 1;
    p[capacity - 1] = 2;
    EXPECT_EQ(p[capacity - 1], 2);
    BufferPool::instance().release(p, capacity);
  }
}

// A new large block is populated at once, in parts on several threads when it is large
// (every part of it), unless the caller asks for its pages to fault in as written.
TEST(BufferPool, NewLargeBlocksArePopulatedUnlessAskedNotTo) {
  const auto resident = [](const void* p, size_t bytes) {
    std::vector<unsigned char> v(bytes / 4096);
    EXPECT_EQ(mincore(const_cast<void*>(p), bytes, v.data()), 0);
    return size_t(std::count_if(v.begin(), v.end(), [](unsigned char c) { return c & 1; }));
  };
  // Odd sizes, so that neither matches a block cached by the other.
  const size_t bytes = (size_t(45) << 20) + 4096 * 3, unpopulated = (size_t(29) << 20) + 4096 * 5;
  size_t capacity = 0;
  void* p = BufferPool::instance().acquire(bytes, &capacity);
  EXPECT_EQ(resident(p, capacity), capacity / 4096);
  size_t capacity2 = 0;
  auto* q = static_cast<uint8_t*>(BufferPool::instance().acquire(unpopulated, &capacity2, /*populate_now=*/false));
  EXPECT_EQ(resident(q, capacity2), 0u);
  q[0] = 1;
  EXPECT_GT(resident(q, capacity2), 0u);
  EXPECT_LT(resident(q, capacity2), capacity2 / 4096);
  BufferPool::instance().release(p, capacity);
  BufferPool::instance().release(q, capacity2);
}

}  // namespace
}  // namespace sd
