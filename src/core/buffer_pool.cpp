#include "core/buffer_pool.h"

#include <cstdlib>
#include <new>

namespace sd {

namespace {
constexpr size_t kAlign = 64;
size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
}  // namespace

BufferPool& BufferPool::instance() {
  static BufferPool* pool = new BufferPool();  // never destroyed: tensors may outlive statics
  return *pool;
}

BufferPool::~BufferPool() { trim(); }

void* BufferPool::acquire(size_t bytes, size_t* capacity) {
  size_t want = round_up(bytes == 0 ? kAlign : bytes, kAlign);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Accept a cached block up to 1/8 larger than asked, so near sizes share blocks
    // without wasting much.
    auto it = free_.lower_bound(want);
    if (it != free_.end() && it->first <= want + want / 8) {
      void* p = it->second;
      *capacity = it->first;
      stats_.cached -= it->first;
      free_.erase(it);
      stats_.in_use += *capacity;
      if (stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, want);
  if (!p) throw std::bad_alloc();
  std::lock_guard<std::mutex> lock(mu_);
  *capacity = want;
  stats_.in_use += want;
  stats_.allocations += 1;
  if (stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
  return p;
}

void BufferPool::release(void* ptr, size_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.in_use -= capacity;
  stats_.cached += capacity;
  free_.emplace(capacity, ptr);
}

void BufferPool::trim() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [size, p] : free_) std::free(p);
  free_.clear();
  stats_.cached = 0;
}

PoolStats BufferPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace sd
