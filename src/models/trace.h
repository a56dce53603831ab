#pragma once
// An optional observer of intermediate activations, called with the diffusers module name
// ("time_embedding", "down_blocks.1") and its output, like a torch forward hook. Tests use
// it to compare stages against the fixtures' hook outputs; it costs nothing when unset.
#include <functional>
#include <string>

#include "core/tensor.h"

namespace sd::models {

using TraceFn = std::function<void(const std::string& module, const Tensor& output)>;

}  // namespace sd::models
