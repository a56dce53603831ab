#pragma once
// The CPU as a backend::Backend: oneDNN convolutions and matmuls, the AVX-512/AVX2 kernels
// of this folder. Its tensors live in the host's BufferPool.
#include <memory>

#include "backend/backend.h"

namespace sd::cpu {

std::unique_ptr<backend::Backend> make_cpu_backend();

}  // namespace sd::cpu
