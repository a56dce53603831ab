// The weights of one model component are carved from shared blocks of huge pages, each
// block going back to the pool with its last weight.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/buffer_pool.h"
#include "core/weight_arena.h"

namespace sd {
namespace {

uintptr_t address(const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); }

constexpr size_t kMB = size_t(1) << 20;

TEST(WeightArena, WeightsShareABlockAlignedAndApart) {
  WeightArena arena;
  std::vector<Tensor> weights;
  for (size_t bytes : {size_t(1000), size_t(4096), kMB, size_t(1), 200 * size_t(1024)}) {
    weights.push_back(arena.allocate(bytes));
    EXPECT_EQ(weights.back().nbytes(), bytes);
    EXPECT_EQ(address(weights.back()) % 64, 0u);
  }
  EXPECT_EQ(arena.blocks(), 1u);
  for (size_t i = 0; i < weights.size(); ++i) std::memset(weights[i].raw_data(), int(i + 1), weights[i].nbytes());
  for (size_t i = 0; i < weights.size(); ++i) {
    const auto* p = static_cast<const unsigned char*>(weights[i].raw_data());
    EXPECT_TRUE(std::all_of(p, p + weights[i].nbytes(), [&](unsigned char c) { return c == i + 1; })) << i;
  }
}

// Blocks double from one huge page (2 MB) up to 64 MB; a weight larger than the next
// block gets one of its own, in whole huge pages, and what it leaves takes later, smaller
// weights first.
TEST(WeightArena, BlocksGrowAndWhatTheyLeaveTakesLaterWeights) {
  WeightArena arena;
  const size_t huge = 2 * kMB;
  std::vector<Tensor> keep;
  for (size_t block = huge, n = 1; block <= 64 * kMB; block *= 2, ++n) {
    keep.push_back(arena.allocate(block));  // fills a block of exactly that size
    EXPECT_EQ(arena.blocks(), n);
    EXPECT_EQ(address(keep.back()) % huge, 0u);
  }
  const size_t blocks = arena.blocks();
  const Tensor large = arena.allocate(64 * kMB + 1);  // a block of 66 MB
  EXPECT_EQ(arena.blocks(), blocks + 1);
  const Tensor small = arena.allocate(kMB);  // in the 2 MB the large one left
  EXPECT_EQ(arena.blocks(), blocks + 1);
  EXPECT_GE(address(small), address(large) + large.nbytes());
  EXPECT_LT(address(small), address(large) + 66 * kMB);
  const Tensor another = arena.allocate(kMB);  // no room left anywhere: a new 64 MB block
  EXPECT_EQ(arena.blocks(), blocks + 2);
}

TEST(WeightArena, ABlockGoesBackToThePoolWithItsLastWeight) {
  const size_t before = BufferPool::instance().stats().in_use;
  Tensor first, second;
  {
    WeightArena arena;
    first = arena.allocate(kMB / 2);
    second = arena.allocate(kMB / 2);
    EXPECT_EQ(arena.blocks(), 1u);
  }
  EXPECT_GE(BufferPool::instance().stats().in_use, before + 2 * kMB);
  first = Tensor();
  EXPECT_GE(BufferPool::instance().stats().in_use, before + 2 * kMB);
  second = Tensor();
  EXPECT_EQ(BufferPool::instance().stats().in_use, before);
}

// Resident pages of [p, p + bytes), p page-aligned.
size_t resident_pages(const void* p, size_t bytes) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((bytes + page - 1) / page);
  if (mincore(const_cast<void*>(p), bytes, v.data()) != 0) return size_t(-1);
  return size_t(std::count_if(v.begin(), v.end(), [](unsigned char c) { return c & 1; }));
}

// A block is faulted in as its weights are written, so the room no weight takes costs
// nothing; a block the pool had cached comes populated, and its room is given back once
// the model is loaded (the arena gone), in whole huge pages. The weights stay.
TEST(WeightArena, RoomNoWeightTookIsNotResidentOnceTheArenaIsGone) {
  const size_t huge = 2 * kMB;
  {
    Tensor cached = Tensor::empty({int64_t(2 * huge)}, DType::U8);  // populated by the pool
    std::memset(cached.raw_data(), 1, cached.nbytes());
  }
  Tensor first, weight;
  {
    WeightArena arena;
    first = arena.allocate(huge);      // fills the first block, of 2 MB
    weight = arena.allocate(kMB / 2);  // starts the second, of 4 MB: the cached block
    ASSERT_EQ(arena.blocks(), 2u);
    std::memset(weight.raw_data(), 7, weight.nbytes());
    ASSERT_EQ(address(weight) % huge, 0u);  // the block's start
    EXPECT_EQ(resident_pages(static_cast<char*>(weight.raw_data()) + huge, huge), huge / 4096);
  }
  EXPECT_EQ(resident_pages(static_cast<char*>(weight.raw_data()) + huge, huge), 0u);
  EXPECT_EQ(resident_pages(weight.raw_data(), weight.nbytes()), weight.nbytes() / 4096);
  EXPECT_EQ(static_cast<const unsigned char*>(weight.raw_data())[weight.nbytes() - 1], 7);
}

}  // namespace
}  // namespace sd
