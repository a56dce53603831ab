#pragma once
#include "backend/backend.h"
#include "ops/ops.h"

namespace sd::ops {

inline backend::Act to_backend(Activation a) {
  switch (a) {
    case Activation::None: return backend::Act::None;
    case Activation::SiLU: return backend::Act::SiLU;
    case Activation::GELU: return backend::Act::GELU;
    case Activation::QuickGELU: return backend::Act::QuickGELU;
    case Activation::ReLU: return backend::Act::ReLU;
    case Activation::Tanh: return backend::Act::Tanh;
  }
  return backend::Act::None;
}

}  // namespace sd::ops
