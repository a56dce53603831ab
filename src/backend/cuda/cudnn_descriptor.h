#pragma once
// An owned cuDNN backend (graph API) descriptor with typed attribute setters: the
// operation graphs, engine configurations and execution plans of the convolutions.
#include <cudnn.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace sd::cuda {

class CudnnDescriptor {
 public:
  CudnnDescriptor() = default;
  explicit CudnnDescriptor(cudnnBackendDescriptorType_t type);
  ~CudnnDescriptor();
  CudnnDescriptor(CudnnDescriptor&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  CudnnDescriptor& operator=(CudnnDescriptor&& o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }

  cudnnBackendDescriptor_t get() const { return d_; }

  CudnnDescriptor& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
                       const void* values);
  CudnnDescriptor& set_int(cudnnBackendAttributeName_t name, std::vector<int64_t> values);
  CudnnDescriptor& set_float(cudnnBackendAttributeName_t name, float value);
  CudnnDescriptor& set_desc(cudnnBackendAttributeName_t name, const CudnnDescriptor& value);
  CudnnDescriptor& set_data_type(cudnnBackendAttributeName_t name, cudnnDataType_t value);
  CudnnDescriptor& set_handle(cudnnBackendAttributeName_t name, cudnnHandle_t handle);
  // Throws sd::Error naming `what` when cuDNN refuses the descriptor.
  void finalize(const char* what);
  // The same, returning false instead (trying engine configurations in turn).
  bool try_finalize();

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

}  // namespace sd::cuda
