#include "core/weight_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

#include "core/buffer_pool.h"

namespace sd {

namespace {
// Blocks start at one huge page and double up to kMaxBlockBytes, so that a small model
// (a test's) takes little more than it needs and a large one few blocks, each of which
// may end in a partly used huge page. Their pages fault in as the weights are written
// (a huge page at a time, by the threads that lay the weights out): the room no weight
// takes is never touched.
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kMaxBlockBytes = size_t(64) << 20;
constexpr size_t kAlign = 64;

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
}  // namespace

struct WeightArena::Block {
  char* base = nullptr;
  size_t size = 0;      // as asked for
  size_t capacity = 0;  // as the pool gave it
  size_t used = 0;
  explicit Block(size_t bytes) : size(bytes) {
    base = static_cast<char*>(BufferPool::instance().acquire(bytes, &capacity, /*populate_now=*/false));
  }
  ~Block() { BufferPool::instance().release(base, capacity); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
};

Tensor WeightArena::allocate(size_t bytes) {
  const size_t need = round_up(std::max<size_t>(bytes, 1), kAlign);
  std::lock_guard<std::mutex> lock(mu_);
  // The first block with room: later, smaller weights fill what earlier ones left.
  std::shared_ptr<Block> block;
  for (const auto& b : blocks_)
    if (b->size - b->used >= need) {
      block = b;
      break;
    }
  if (!block) {
    block = std::make_shared<Block>(std::max(next_block_bytes_, round_up(need, kHugePage)));
    next_block_bytes_ = std::min(2 * next_block_bytes_, kMaxBlockBytes);
    blocks_.push_back(block);
  }
  char* at = block->base + block->used;
  block->used += need;
  return Tensor::wrap(at, {int64_t(bytes)}, DType::U8, block);
}

WeightArena::~WeightArena() {
  // A block the pool had cached comes populated. Whole huge pages only: freeing part of
  // one would split it, and the block, reused from the pool later, would fault that part
  // back in 4 KB at a time.
  for (const auto& b : blocks_) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(b->base);
    const size_t from = round_up(base + b->used, kHugePage) - base;
    if (from < b->capacity) madvise(b->base + from, b->capacity - from, MADV_DONTNEED);
  }
}

size_t WeightArena::blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return blocks_.size();
}

}  // namespace sd
