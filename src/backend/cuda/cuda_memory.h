#pragma once
// A GPU's memory as the core sees it (core/device.h): tensors on cuda:N take their
// buffers from the context's stream-ordered pool and give them back in stream order, so
// a buffer freed by one op is reused by the next without a synchronisation.
#include "backend/cuda/context.h"
#include "core/device.h"

namespace sd::cuda {

class CudaMemory final : public DeviceMemory {
 public:
  explicit CudaMemory(Context& ctx) : ctx_(ctx) {}
  void* acquire(size_t bytes, size_t* capacity) override;
  void release(void* ptr, size_t capacity) override;
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void copy_within(void* dst, const void* src, size_t bytes) override;
  void set_zero(void* dst, size_t bytes) override;

 private:
  Context& ctx_;
};

}  // namespace sd::cuda
