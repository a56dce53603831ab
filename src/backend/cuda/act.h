#pragma once

namespace sd::cuda {

// Element-wise activations, fused into other ops where the library or kernel allows.
// GELU is the exact (erf) form diffusers uses; GELUTanh is the tanh approximation, the
// only GELU cuBLASLt's epilogue offers.
enum class Act { None, SiLU, GELU, GELUTanh, QuickGELU, ReLU, Tanh };

}  // namespace sd::cuda
