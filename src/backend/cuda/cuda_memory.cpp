#include "backend/cuda/cuda_memory.h"

#include "backend/cuda/check.h"

namespace sd::cuda {

namespace {
// Any thread may allocate or free a tensor (a job's results are dropped by the HTTP
// thread); CUDA's current device is per thread, so each call names it.
void use_device(const Context& ctx) { SD_CUDA_CHECK(cudaSetDevice(ctx.device())); }
}  // namespace

void* CudaMemory::acquire(size_t bytes, size_t* capacity) {
  use_device(ctx_);
  *capacity = bytes;
  return ctx_.pool().allocate(bytes, ctx_.stream());
}

void CudaMemory::release(void* ptr, size_t) {
  // Destructors must not throw: a failed device call here means the context is already
  // broken, and the next op on it reports that.
  if (cudaSetDevice(ctx_.device()) == cudaSuccess) (void)cudaFreeAsync(ptr, ctx_.stream());
}

void CudaMemory::copy_from_host(void* dst, const void* src, size_t bytes) {
  use_device(ctx_);
  copy_to_device(ctx_, dst, src, bytes);
  ctx_.synchronize();  // the host buffer may be reused as soon as this returns
}

void CudaMemory::copy_to_host(void* dst, const void* src, size_t bytes) {
  use_device(ctx_);
  cuda::copy_to_host(ctx_, dst, src, bytes);
  ctx_.synchronize();
}

void CudaMemory::copy_within(void* dst, const void* src, size_t bytes) {
  use_device(ctx_);
  copy_on_device(ctx_, dst, src, bytes);
}

void CudaMemory::set_zero(void* dst, size_t bytes) {
  use_device(ctx_);
  if (bytes) SD_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, ctx_.stream()));
}

}  // namespace sd::cuda
