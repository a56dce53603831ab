#pragma once
// A caching allocator for tensor memory. Freed blocks are kept and handed out again for
// requests of (nearly) the same size, so the denoising loop, which repeats the same
// shapes every step, stops allocating after the first step and never re-touches fresh
// pages (about 12 us per 4 KiB page here).
#include <cstddef>
#include <map>
#include <mutex>

namespace sd {

struct PoolStats {
  size_t in_use = 0;       // bytes handed out and not yet returned
  size_t cached = 0;       // bytes held for reuse
  size_t peak_in_use = 0;  // high-water mark of in_use
  size_t allocations = 0;  // calls that had to go to the system allocator
};

class BufferPool {
 public:
  static BufferPool& instance();

  // Returns 64-byte-aligned memory of at least `bytes`; `*capacity` receives the block's
  // real size, which must be passed back to release().
  void* acquire(size_t bytes, size_t* capacity);
  void release(void* ptr, size_t capacity);
  // Frees every cached block (e.g. after a resolution change).
  void trim();
  PoolStats stats() const;

  ~BufferPool();

 private:
  BufferPool() = default;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;
  PoolStats stats_;
};

}  // namespace sd
