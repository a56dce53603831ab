// Attention against a double reference: SD's head dims 40/64/80/160 and the VAE's 512, odd
// lengths, self-attention read from a packed qkv projection (strided rows), cross-attention
// to 77 text tokens, CLIP's causal mask, misaligned rows, and scores too large for one
// chunk (split over heads and query rows).
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cuda/attention.h"
#include "cuda/cuda_test_util.h"
#include "cuda/reference.h"

namespace sd::test {
namespace {

struct Case {
  int64_t batch, q_len, kv_len;
  int heads, head_dim;
  bool packed, causal;
  int64_t misalign = 0;  // elements added to the start and to every row stride
};

void check(cuda::Context& ctx, const Case& c, DType dt) {
  const int64_t hd = int64_t(c.heads) * c.head_dim;
  const float scale = 1.f / std::sqrt(float(c.head_dim));
  cuda::AttentionShape shape{c.batch, c.q_len, c.kv_len, c.heads, c.head_dim};
  const size_t esize = dtype_size(dt);
  std::vector<double> want;
  std::vector<float> got;
  if (c.packed) {
    // One [B, L, 3*H*D] buffer (the fused qkv projection), q/k/v at column offsets.
    const int64_t row = 3 * hd + c.misalign;
    const std::vector<float> qkv = rounded(random_floats(size_t(c.batch * c.q_len * row + c.misalign), 30), dt);
    DeviceArray d(ctx, qkv, dt), out(ctx, size_t(c.batch * c.q_len * hd), dt);
    auto at = [&](int64_t col) { return static_cast<const char*>(d.get()) + (c.misalign + col) * esize; };
    const cuda::AttentionOperand q{at(0), c.q_len * row, row}, k{at(hd), c.q_len * row, row},
        v{at(2 * hd), c.q_len * row, row};
    cuda::attention(ctx, q, k, v, out.get(), c.q_len * hd, hd, shape, c.causal, scale, dt);
    got = out.download();
    const std::vector<float> body(qkv.begin() + c.misalign, qkv.end());
    want = ref_attention(std::vector<float>(body.begin(), body.end()), std::vector<float>(body.begin() + hd, body.end()),
                         std::vector<float>(body.begin() + 2 * hd, body.end()), row, row, c.batch, c.q_len, c.kv_len,
                         c.heads, c.head_dim, c.causal, scale);
  } else {
    const std::vector<float> qh = rounded(random_floats(size_t(c.batch * c.q_len * hd), 31), dt);
    const std::vector<float> kh = rounded(random_floats(size_t(c.batch * c.kv_len * hd), 32), dt);
    const std::vector<float> vh = rounded(random_floats(size_t(c.batch * c.kv_len * hd), 33), dt);
    DeviceArray dq(ctx, qh, dt), dk(ctx, kh, dt), dv(ctx, vh, dt), out(ctx, qh.size(), dt);
    const cuda::AttentionOperand q{dq.get(), c.q_len * hd, hd}, k{dk.get(), c.kv_len * hd, hd},
        v{dv.get(), c.kv_len * hd, hd};
    cuda::attention(ctx, q, k, v, out.get(), c.q_len * hd, hd, shape, c.causal, scale, dt);
    got = out.download();
    want = ref_attention(qh, kh, vh, hd, hd, c.batch, c.q_len, c.kv_len, c.heads, c.head_dim, c.causal, scale);
  }
  EXPECT_TRUE(close_to(got, want, dt)) << dtype_name(dt) << " B" << c.batch << " Lq" << c.q_len << " Lk" << c.kv_len
                                       << " H" << c.heads << " D" << c.head_dim << (c.packed ? " packed" : "")
                                       << (c.causal ? " causal" : "") << " misalign " << c.misalign;
}

TEST(CudaAttention, SelfAttentionOnPackedQkvAtSdHeadDims) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (int d : {40, 64, 80, 160})
    for (DType dt : {DType::F16, DType::BF16}) check(ctx, {2, 130, 130, 2, d, true, false}, dt);
}

TEST(CudaAttention, CrossAttentionToTextTokens) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (int d : {40, 64, 80, 160})
    for (DType dt : {DType::F16, DType::BF16}) check(ctx, {2, 200, 77, 3, d, false, false}, dt);
}

TEST(CudaAttention, CausalMaskOfTheTextEncoder) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : {DType::F16, DType::BF16}) {
    check(ctx, {2, 77, 77, 3, 64, true, true}, dt);
    check(ctx, {1, 150, 150, 2, 80, false, true}, dt);
  }
}

TEST(CudaAttention, ManyKeyTilesAndOneQueryRow) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  check(ctx, {1, 1024, 1024, 1, 40, false, false}, DType::F16);
  check(ctx, {1, 1, 333, 4, 64, false, false}, DType::BF16);
}

TEST(CudaAttention, OddHeadDimsAndMisalignedRows) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : {DType::F16, DType::BF16}) {
    check(ctx, {2, 70, 70, 2, 20, false, false}, dt);
    check(ctx, {1, 65, 65, 2, 40, true, false, 1}, dt);
  }
}

TEST(CudaAttention, Float32ReferencePath) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  check(ctx, {2, 130, 130, 2, 40, true, false}, DType::F32);
  check(ctx, {1, 100, 77, 2, 160, false, false}, DType::F32);
  check(ctx, {2, 77, 77, 3, 64, true, true}, DType::F32);
  check(ctx, {1, 20, 20, 1, 256, false, false}, DType::F32);
}

TEST(CudaAttention, TheVaeSingleWideHead) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) check(ctx, {1, 100, 100, 1, 512, true, false}, dt);
}

TEST(CudaAttention, ScoresBeyondOneChunkSplitOverHeadsAndQueryRows) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  // 65536 keys: 1024 query rows of one head fill a chunk, so 2 heads x 1100 rows take four,
  // the causal mask continuing across the query split.
  check(ctx, {1, 1100, 65536, 2, 8, false, true}, DType::F16);
}

TEST(CudaAttention, RefusesIntegerTypes) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  DeviceArray x(ctx, 2048, DType::F16);
  const cuda::AttentionOperand op{x.get(), 1024, 1024};
  EXPECT_THROW(cuda::attention(ctx, op, op, op, x.get(), 64, 64, {1, 1, 1, 1, 64}, false, 1.f, DType::I32), Error);
}

}  // namespace
}  // namespace sd::test
