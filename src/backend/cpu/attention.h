#pragma once
// Fused multi-head scaled dot-product attention.
#include "core/tensor.h"

namespace sd::cpu {

// q [B, Lq, H*D], k and v [B, Lk, H*D] with contiguous last dimensions (other strides are
// free). Returns contiguous [B, Lq, H*D] in q's dtype. Works on blocks of query rows, so
// at most a (block x Lk) slice of one head's scores exists at a time.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal,
                 float scale);

}  // namespace sd::cpu
