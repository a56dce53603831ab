#pragma once
// A caching allocator for tensor memory. Freed blocks are kept and handed out again for
// requests of (nearly) the same size, so the denoising loop, which repeats the same
// shapes every step, stops allocating after the first step and never re-touches fresh
// pages. The cache is bounded: the pool's whole footprint (live + cached bytes) never
// grows past the highest live total seen, so resident memory tracks what the model
// really needs at its peak; the oldest cached blocks are released first when a request
// cannot be served from the cache.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

namespace sd {

struct PoolStats {
  size_t in_use = 0;       // bytes handed out and not yet returned
  size_t cached = 0;       // bytes held for reuse
  size_t peak_in_use = 0;  // high-water mark of in_use
  size_t allocations = 0;  // calls that had to go to the system
};

class BufferPool {
 public:
  static BufferPool& instance();

  // Returns 64-byte-aligned memory of at least `bytes`; `*capacity` receives the block's
  // real size, which must be passed back to release(). populate_now = false: new pages
  // fault in as they are first written (by whichever threads write them), not at once.
  void* acquire(size_t bytes, size_t* capacity, bool populate_now = true);
  void release(void* ptr, size_t capacity);
  // Frees every cached block.
  void trim();
  PoolStats stats() const;

 private:
  struct Cached {
    void* ptr;
    uint64_t age;  // release order
  };
  using BySize = std::multimap<size_t, Cached>;

  BufferPool() = default;
  // Removes cached blocks, oldest first, until `need` more bytes fit under the peak.
  // Returns the blocks to free once the lock is released.
  std::vector<std::pair<void*, size_t>> evict_for(size_t need);
  void erase_cached(BySize::iterator it);

  mutable std::mutex mu_;
  BySize by_size_;
  std::map<uint64_t, BySize::iterator> by_age_;
  uint64_t next_age_ = 0;
  PoolStats stats_;
};

}  // namespace sd
