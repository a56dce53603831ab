// The entry points the backend registry (src/backend/registry.cpp) looks up after loading
// this library: plain names, as dlsym finds them.
#include "backend/cuda/cuda_backend.h"

extern "C" int sd_cuda_device_count() { return sd::backend::cuda_device_count(); }

// The caller owns the backend. Throws sd::Error as make_cuda_backend does.
extern "C" sd::backend::Backend* sd_make_cuda_backend(int index) {
  return sd::backend::make_cuda_backend(index).release();
}
