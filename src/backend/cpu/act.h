#pragma once
#include "backend/backend.h"

namespace sd::cpu {

// Element-wise activations the backend fuses into other ops (the interface's own).
using Act = backend::Act;

}  // namespace sd::cpu
