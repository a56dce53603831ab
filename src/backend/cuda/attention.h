#pragma once
// Fused multi-head scaled dot-product attention on tensor cores (flash attention): an
// online softmax over tiles of keys, so no Lq x Lk score matrix ever exists.
#include <cstdint>

#include "backend/cuda/context.h"
#include "core/dtype.h"

namespace sd::cuda {

// Where one of q, k, v or out lives: element (b, l, h*D + d) is at
// ptr[b * batch_stride + l * row_stride + h*D + d].
struct AttentionOperand {
  const void* ptr = nullptr;
  int64_t batch_stride = 0, row_stride = 0;
};

struct AttentionShape {
  int64_t batch = 0, q_len = 0, kv_len = 0;
  int heads = 0, head_dim = 0;  // head_dim <= 512
};

// out = softmax(q k^T * scale [+ causal mask]) v per (batch, head). q, k, v, out: f16 or
// bf16 (`dt`) run on tensor cores with float32 scores, softmax and accumulation; head dims
// are padded to the next multiple of 16 inside the kernel only (40 computes as 48, a
// sixth more, not the 60% of padding to 64). f32, and head dims above 256 (the VAE's one
// 512-wide head), run on CUDA cores, one warp per query row: correct, not fast.
void attention(Context& ctx, const AttentionOperand& q, const AttentionOperand& k, const AttentionOperand& v,
               void* out, int64_t out_batch_stride, int64_t out_row_stride, const AttentionShape& shape, bool causal,
               float scale, DType dt);

}  // namespace sd::cuda
