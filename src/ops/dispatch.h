#pragma once
// How an op finds its backend: the device of its inputs, which must be one device (ops
// never move data between devices behind the caller's back).
#include <initializer_list>

#include "backend/backend.h"

namespace sd::ops {

backend::Backend& backend_of(const Tensor& t);
// All of `ts` on one device; throws sd::Error naming `op` and the devices otherwise.
backend::Backend& backend_of(const char* op, std::initializer_list<const Tensor*> ts);

}  // namespace sd::ops
