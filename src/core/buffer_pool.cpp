#include "core/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <system_error>
#include <thread>

namespace sd {

namespace {
constexpr size_t kAlign = 64;
// Blocks this large are mapped directly, so freeing them returns the pages to the
// system at once (malloc may keep heap memory, and raises its own mmap threshold). They
// are populated at once (every tensor is written whole, and faulting its pages in one by
// one costs a trap per 4 KB page) and asked for transparent huge pages before that: in a
// virtual machine with shadow page tables each 4 KB page also costs the hypervisor a trap
// at the process's first write, even populated (measured: 5.6 s per GB written the first
// time against 0.13 s the second; 0.4 s with huge pages).
constexpr size_t kMapThreshold = size_t(1) << 20;
constexpr size_t kHugePage = size_t(2) << 20;
// Blocks at least twice this large are populated by several threads, a part each: the
// kernel zeroes a page on the core that faults it in (measured on a 2-core VM: 1 GB in
// 0.054 s on one core, 0.029 s on two; at a process's first use of memory the host's
// work per page splits the same way). Down to 4 MB blocks: a first UNet step takes 200 MB
// of fresh activations in blocks of 1-18 MB, mostly 5 MB (measured on a 2-core EPYC VM,
// that mix of fresh blocks in 0.51-0.63 s on one core, 0.44-0.50 s split in two).
constexpr size_t kPopulatePart = size_t(2) << 20;
constexpr unsigned kMaxPopulateThreads = 4;
// Headroom above the live peak before cached blocks are evicted: avoids churn when
// sizes wobble a little between steps.
constexpr size_t kSlack = size_t(32) << 20;

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// An anonymous mapping of `bytes`, 2 MB-aligned when it is at least that large. Huge
// pages cover only the 2 MB-aligned stretches of a mapping, and the kernel aligns only
// mappings whose size is a multiple of 2 MB: a larger one is mapped with room to align
// it, and the rest given back.
char* map_aligned(size_t bytes, int prot) {
  const size_t slack = bytes >= kHugePage ? kHugePage - 4096 : 0;
  char* raw = static_cast<char*>(mmap(nullptr, bytes + slack, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (raw == MAP_FAILED) return nullptr;
  char* p = slack ? reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(raw), kHugePage)) : raw;
  if (p > raw) munmap(raw, size_t(p - raw));
  if (raw + bytes + slack > p + bytes) munmap(p + bytes, size_t(raw + bytes + slack - (p + bytes)));
  return p;
}

// Faults in [p, p + bytes) for writing, in parts on several threads when it is large.
// A hint, like the madvise calls below: without it pages fault in as they are written.
void populate(char* p, size_t bytes) {
  const unsigned cores = std::max(1u, std::min(kMaxPopulateThreads, std::thread::hardware_concurrency()));
  const size_t parts = std::clamp<size_t>(bytes / kPopulatePart, 1, cores);
  const size_t per = round_up((bytes + parts - 1) / parts, kHugePage);
  std::vector<std::thread> others;
  for (size_t from = per; from < bytes; from += per) {
    const size_t n = std::min(per, bytes - from);
    try {
      others.emplace_back([=] { madvise(p + from, n, MADV_POPULATE_WRITE); });
    } catch (const std::system_error&) {
      madvise(p + from, n, MADV_POPULATE_WRITE);  // no thread to spare: this one does it
    }
  }
  madvise(p, std::min(per, bytes), MADV_POPULATE_WRITE);
  for (auto& t : others) t.join();
}

void* system_alloc(size_t bytes, bool populate_now) {
  if (bytes >= kMapThreshold) {
    char* p = map_aligned(bytes, PROT_READ | PROT_WRITE);
    if (!p) return nullptr;
    // Both are hints: without them (THP off, kernels before 5.14) pages fault in as written.
    madvise(p, bytes, MADV_HUGEPAGE);
    if (populate_now) populate(p, bytes);
    return p;
  }
  return std::aligned_alloc(kAlign, bytes);
}

void system_free(void* p, size_t bytes) {
  if (bytes >= kMapThreshold) munmap(p, bytes);
  else std::free(p);
}

// Frees the `evicted` blocks, except that the largest mapped one becomes the block of
// `want` bytes returned (nullptr when there is none). mremap keeps that block's resident
// pages: the phases of a job (text encoder, UNet steps, VAE decode) evict each other's
// blocks, and mapping fresh ones instead would zero and populate hundreds of MB again in
// every job. The others go first, so that growing it never adds to the peak.
void* recycle(const std::vector<std::pair<void*, size_t>>& evicted, size_t want, bool populate_now) {
  auto best = evicted.end();
  if (want >= kMapThreshold)
    for (auto it = evicted.begin(); it != evicted.end(); ++it)
      if (it->second >= kMapThreshold && (best == evicted.end() || it->second > best->second)) best = it;
  for (auto it = evicted.begin(); it != evicted.end(); ++it)
    if (it != best) system_free(it->first, it->second);
  if (best == evicted.end()) return nullptr;
  const auto [old, old_size] = *best;
  // Moved to a 2 MB-aligned place: a block mremap moves to an unaligned address has its
  // huge pages split into 4 KB ones, and the weights recycled that way (the UNet's largest,
  // its 1280-channel 3x3 convolutions) were read 2-3x slower by their convolutions.
  void* p = MAP_FAILED;
  if (want >= kHugePage) {
    if (char* to = map_aligned(want, PROT_NONE)) {
      p = mremap(old, old_size, want, MREMAP_MAYMOVE | MREMAP_FIXED, to);
      if (p == MAP_FAILED) munmap(to, want);
    }
  }
  if (p == MAP_FAILED) p = mremap(old, old_size, want, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) {
    munmap(old, old_size);
    return nullptr;
  }
  // The grown part is populated as system_alloc's blocks are; without the call
  // (kernels before 5.14) it is faulted in as it is written.
  if (populate_now && want > old_size) populate(static_cast<char*>(p) + old_size, want - old_size);
  return p;
}

}  // namespace

BufferPool& BufferPool::instance() {
  static BufferPool* pool = new BufferPool();  // never destroyed: tensors may outlive statics
  return *pool;
}

void BufferPool::erase_cached(BySize::iterator it) {
  by_age_.erase(it->second.age);
  stats_.cached -= it->first;
  by_size_.erase(it);
}

std::vector<std::pair<void*, size_t>> BufferPool::evict_for(size_t need) {
  std::vector<std::pair<void*, size_t>> out;
  const size_t limit = std::max(stats_.peak_in_use, stats_.in_use + need) + kSlack;
  while (!by_age_.empty() && stats_.in_use + stats_.cached + need > limit) {
    auto it = by_age_.begin()->second;
    out.emplace_back(it->second.ptr, it->first);
    erase_cached(it);
  }
  return out;
}

void* BufferPool::acquire(size_t bytes, size_t* capacity, bool populate_now) {
  size_t want = round_up(bytes == 0 ? kAlign : bytes, kAlign);
  if (want >= kMapThreshold) want = round_up(want, 4096);
  std::vector<std::pair<void*, size_t>> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Accept a cached block up to 1/8 larger than asked, so near sizes share blocks
    // without wasting much.
    auto it = by_size_.lower_bound(want);
    if (it != by_size_.end() && it->first <= want + want / 8) {
      void* p = it->second.ptr;
      *capacity = it->first;
      erase_cached(it);
      stats_.in_use += *capacity;
      stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
      return p;
    }
    evicted = evict_for(want);
  }
  void* p = recycle(evicted, want, populate_now);
  if (!p) p = system_alloc(want, populate_now);
  if (!p) throw std::bad_alloc();
  std::lock_guard<std::mutex> lock(mu_);
  *capacity = want;
  stats_.in_use += want;
  stats_.allocations += 1;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  return p;
}

void BufferPool::release(void* ptr, size_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.in_use -= capacity;
  stats_.cached += capacity;
  const uint64_t age = next_age_++;
  by_age_[age] = by_size_.emplace(capacity, Cached{ptr, age});
}

void BufferPool::trim() {
  std::vector<std::pair<void*, size_t>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [size, c] : by_size_) all.emplace_back(c.ptr, size);
    by_size_.clear();
    by_age_.clear();
    stats_.cached = 0;
  }
  for (auto& [p, size] : all) system_free(p, size);
}

PoolStats BufferPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace sd
