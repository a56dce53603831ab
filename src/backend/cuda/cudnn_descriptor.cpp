#include "backend/cuda/cudnn_descriptor.h"

#include "backend/cuda/check.h"

namespace sd::cuda {

CudnnDescriptor::CudnnDescriptor(cudnnBackendDescriptorType_t type) {
  SD_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &d_));
}

CudnnDescriptor::~CudnnDescriptor() {
  if (d_) cudnnBackendDestroyDescriptor(d_);
}

CudnnDescriptor& CudnnDescriptor::set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                                      int64_t count, const void* values) {
  SD_CUDNN_CHECK(cudnnBackendSetAttribute(d_, name, type, count, values));
  return *this;
}

CudnnDescriptor& CudnnDescriptor::set_int(cudnnBackendAttributeName_t name, std::vector<int64_t> values) {
  return set(name, CUDNN_TYPE_INT64, int64_t(values.size()), values.data());
}

CudnnDescriptor& CudnnDescriptor::set_float(cudnnBackendAttributeName_t name, float value) {
  return set(name, CUDNN_TYPE_FLOAT, 1, &value);
}

CudnnDescriptor& CudnnDescriptor::set_desc(cudnnBackendAttributeName_t name, const CudnnDescriptor& value) {
  cudnnBackendDescriptor_t d = value.get();
  return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &d);
}

CudnnDescriptor& CudnnDescriptor::set_data_type(cudnnBackendAttributeName_t name, cudnnDataType_t value) {
  return set(name, CUDNN_TYPE_DATA_TYPE, 1, &value);
}

CudnnDescriptor& CudnnDescriptor::set_handle(cudnnBackendAttributeName_t name, cudnnHandle_t handle) {
  return set(name, CUDNN_TYPE_HANDLE, 1, &handle);
}

void CudnnDescriptor::finalize(const char* what) {
  const cudnnStatus_t s = cudnnBackendFinalize(d_);
  if (s != CUDNN_STATUS_SUCCESS) throw_cudnn_error(s, what);
}

bool CudnnDescriptor::try_finalize() { return cudnnBackendFinalize(d_) == CUDNN_STATUS_SUCCESS; }

}  // namespace sd::cuda
