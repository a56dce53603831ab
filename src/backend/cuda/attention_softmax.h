#pragma once
// The softmax stage of the GEMM attention (attention.cpp): rows of float32 scores, already
// scaled, to probabilities in the attention's dtype.
#include <cstdint>

#include "backend/cuda/context.h"
#include "core/dtype.h"

namespace sd::cuda {

// p[r, :] = softmax(s[r, :]) for `rows` rows of `keys` values each. The rows are `heads`
// blocks of `q_rows` queries, query i of a block being query q0 + i of its sequence; with
// causal, query i sees keys <= q0 + i only (the others get probability 0). p is f32, f16 or
// bf16 (`dt`) and may be s itself when dt is f32.
void softmax_scores(Context& ctx, const float* s, void* p, int64_t rows, int64_t keys, int64_t q_rows, int64_t q0,
                    bool causal, DType dt);

}  // namespace sd::cuda
