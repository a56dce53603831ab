#pragma once

namespace sd::cpu {

// Element-wise activations the backend fuses into other ops.
enum class Act { None, SiLU, GELU, QuickGELU, ReLU, Tanh };

}  // namespace sd::cpu
