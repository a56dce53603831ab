#pragma once
#include "backend/cpu/act.h"
#include "ops/ops.h"

namespace sd::ops {

inline cpu::Act to_cpu(Activation a) {
  switch (a) {
    case Activation::None: return cpu::Act::None;
    case Activation::SiLU: return cpu::Act::SiLU;
    case Activation::GELU: return cpu::Act::GELU;
    case Activation::QuickGELU: return cpu::Act::QuickGELU;
    case Activation::ReLU: return cpu::Act::ReLU;
    case Activation::Tanh: return cpu::Act::Tanh;
  }
  return cpu::Act::None;
}

}  // namespace sd::ops
