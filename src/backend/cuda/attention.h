#pragma once
// Multi-head scaled dot-product attention as two strided batched cuBLASLt products around
// a softmax kernel, over chunks of heads and query rows whose float32 scores stay within a
// fixed budget (256 MB), so the Lq x Lk matrices of all heads never exist at once.
//
// Why not a fused flash-attention kernel: the WMMA one this replaced ran SD1.5's 4096-token
// self-attention at 7 TFLOP/s on an H200 (1% of its matmul rate) and the VAE's 512-wide
// head on CUDA cores at 3; these products run at the matmul rate and the softmax at memory
// speed. A Hopper flash kernel (wgmma, TMA) is the next step past this.
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
  int heads = 0, head_dim = 0;
};

// out = softmax(q k^T * scale [+ causal mask]) v per (batch, head). q, k, v, out: f32, f16
// or bf16 (`dt`); 16-bit inputs run on tensor cores with float32 accumulation and float32
// scores and softmax, the probabilities rounded to `dt` for the second product (as
// PyTorch's math attention does); f32 runs in full float32 (no TF32). Any head dim.
void attention(Context& ctx, const AttentionOperand& q, const AttentionOperand& k, const AttentionOperand& v,
               void* out, int64_t out_batch_stride, int64_t out_row_stride, const AttentionShape& shape, bool causal,
               float scale, DType dt);

}  // namespace sd::cuda
