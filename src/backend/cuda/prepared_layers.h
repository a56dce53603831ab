#pragma once
// Convolutions and linear layers prepared once per layer on a GPU: the weight uploaded
// (once) in its compute dtype and kept in the layout the library wants (cuDNN's OHWI,
// cuBLASLt's row-major [O, I]), the bias in that dtype, and the library objects whose
// plans are chosen per call shape.
#include <memory>

#include "backend/backend.h"
#include "backend/cuda/act.h"
#include "backend/cuda/context.h"

namespace sd::cuda {

std::unique_ptr<backend::PreparedConv> prepare_conv(Context& ctx, const Tensor& weight, const Tensor& bias,
                                                    backend::ConvGeometry g);
std::unique_ptr<backend::PreparedMatmul> prepare_matmul(Context& ctx, const Tensor& weight, const Tensor& bias);

// The backend's activation as the kernels' (the same functions; the kernels add GELUTanh).
Act kernel_act(backend::Act act);

}  // namespace sd::cuda
