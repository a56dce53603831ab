#pragma once
// The epilogue oneDNN fuses into convolutions and matmuls: act(y + bias) + residual.
#include <oneapi/dnnl/dnnl.hpp>

#include "backend/cpu/act.h"

namespace sd::cpu {

// Post-ops applying `act`, then adding a residual described by res_md (when non-empty).
dnnl::primitive_attr post_ops_attr(Act act, const dnnl::memory::desc* res_md);
// The execute() argument id of the residual for an attr built by post_ops_attr.
int residual_arg(Act act);

}  // namespace sd::cpu
