#pragma once
// The CUDA backend as a backend::Backend (src/backend/backend.h): the kernels of this
// folder (cuDNN convolutions, cuBLASLt matmuls, flash attention, norms, element-wise and
// layout kernels) over tensors in the GPU's stream-ordered caching pool. The registry
// (src/backend/registry.cpp) creates one per GPU on first use.
#include <memory>

#include "backend/backend.h"

namespace sd::backend {

// Usable GPUs; 0 without a driver or a device (never throws).
int cuda_device_count();
// The backend of GPU `index`; its memory is registered with the core (core/device.h)
// before this returns. Throws sd::Error with the driver's reason when the GPU cannot be used.
std::unique_ptr<Backend> make_cuda_backend(int index);

}  // namespace sd::backend
