#include "ops/flop_count.h"

#include <atomic>

namespace sd::ops {

namespace {
std::atomic<uint64_t> g_flops{0};
std::atomic<uint64_t> g_bf16_flops{0};
}  // namespace

void count_flops(double flops, DType dtype) {
  g_flops.fetch_add(uint64_t(flops), std::memory_order_relaxed);
  if (dtype == DType::BF16) g_bf16_flops.fetch_add(uint64_t(flops), std::memory_order_relaxed);
}
double flops_counted() { return double(g_flops.load(std::memory_order_relaxed)); }
double bf16_flops_counted() { return double(g_bf16_flops.load(std::memory_order_relaxed)); }
void reset_flop_count() {
  g_flops.store(0, std::memory_order_relaxed);
  g_bf16_flops.store(0, std::memory_order_relaxed);
}

}  // namespace sd::ops
