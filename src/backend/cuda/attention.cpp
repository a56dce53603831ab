#include "backend/cuda/attention.h"

#include <cublasLt.h>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "backend/cuda/attention_softmax.h"
#include "backend/cuda/check.h"
#include "backend/cuda/cublaslt_plan.h"

namespace sd::cuda {

namespace {

// The float32 scores of one chunk of (heads x query rows) at most this large: SD1.5's
// 4096-token self-attention takes four of its eight heads per chunk, the VAE's 16384-token
// one at 1024x1024 a quarter of its queries.
constexpr int64_t kScoreBytes = int64_t(256) << 20;

// The largest power of two (up to 256) dividing every value: what cuBLASLt may assume of a
// batch's matrices, whose addresses are base + i * stride.
uint32_t alignment_of(std::initializer_list<uint64_t> values) {
  uint64_t a = 256;
  for (uint64_t v : values)
    if (v) a = std::min<uint64_t>(a, v & (~v + 1));
  return uint32_t(a);
}

// One strided batched column-major product D = alpha op(A) B, op(A) = A^T when trans_a
// (A stored k x m) else A (stored m x k); B stored k x n; D m x n.
struct GemmShape {
  bool trans_a;
  int64_t m, n, k, lda, ldb, ldd, stride_a, stride_b, stride_d, batch;
  cudaDataType_t ab_type, d_type;
  uint32_t align_a, align_b, align_d;
  int device;

  auto tie() const {
    return std::tie(trans_a, m, n, k, lda, ldb, ldd, stride_a, stride_b, stride_d, batch, ab_type, d_type, align_a,
                    align_b, align_d, device);
  }
  bool operator<(const GemmShape& o) const { return tie() < o.tie(); }
};

cublasLtMatrixLayout_t batched_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld, int64_t stride,
                                      int64_t batch) {
  cublasLtMatrixLayout_t l = nullptr;
  SD_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, type, uint64_t(rows), uint64_t(cols), ld));
  const int32_t count = int32_t(batch);
  SD_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
  SD_CUBLAS_CHECK(
      cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  return l;
}

// The plan of a shape, made once (descriptors and the heuristic's first algorithm): a
// model calls a handful of attention shapes thousands of times.
const CublasLtPlan& plan_for(Context& ctx, const GemmShape& g) {
  static std::mutex mu;
  static std::map<GemmShape, std::unique_ptr<CublasLtPlan>> plans;
  std::lock_guard<std::mutex> lock(mu);
  auto it = plans.find(g);
  if (it != plans.end()) return *it->second;
  auto p = std::make_unique<CublasLtPlan>();
  SD_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = CUBLAS_OP_N;
  SD_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
  SD_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
  p->a = g.trans_a ? batched_layout(g.ab_type, g.k, g.m, g.lda, g.stride_a, g.batch)
                   : batched_layout(g.ab_type, g.m, g.k, g.lda, g.stride_a, g.batch);
  p->b = batched_layout(g.ab_type, g.k, g.n, g.ldb, g.stride_b, g.batch);
  p->d = batched_layout(g.d_type, g.m, g.n, g.ldd, g.stride_d, g.batch);

  cublasLtMatmulHeuristicResult_t result{};
  const int found = cublaslt_algorithms(ctx.cublaslt(), *p, kCublasLtWorkspaceBytes, g.align_a, g.align_b, g.align_d,
                                        g.align_d, 1, &result);
  if (found == 0)
    throw Error("cuBLASLt has no algorithm for the attention product " + std::to_string(g.m) + "x" +
                std::to_string(g.k) + " by " + std::to_string(g.k) + "x" + std::to_string(g.n) + " (batch " +
                std::to_string(g.batch) + ")");
  p->algo = result.algo;
  p->workspace = result.workspaceSize;
  return *plans.emplace(g, std::move(p)).first->second;
}

void gemm(Context& ctx, const GemmShape& g, float alpha, const void* a, const void* b, void* d) {
  const CublasLtPlan& p = plan_for(ctx, g);
  void* workspace = p.workspace ? ctx.workspace(p.workspace) : nullptr;
  const float beta = 0.f;
  SD_CUBLAS_CHECK(cublasLtMatmul(ctx.cublaslt(), p.desc, &alpha, a, p.a, b, p.b, &beta, d, p.d, d, p.d, &p.algo,
                                 workspace, p.workspace, ctx.stream()));
}

uint64_t address(const void* p) { return reinterpret_cast<uint64_t>(p); }

}  // namespace

void attention(Context& ctx, const AttentionOperand& q, const AttentionOperand& k, const AttentionOperand& v,
               void* out, int64_t out_batch_stride, int64_t out_row_stride, const AttentionShape& s, bool causal,
               float scale, DType dt) {
  SD_CHECK(s.head_dim > 0 && s.heads > 0, "attention needs heads of at least one channel");
  SD_CHECK(s.q_len <= 0x7fffffff && s.kv_len <= 0x7fffffff, "sequence too long");
  if (s.batch <= 0 || s.q_len <= 0) return;
  SD_CHECK(s.kv_len > 0, "attention needs at least one key");
  const cudaDataType_t type = cublaslt_type(dt);
  const int64_t el = int64_t(dtype_size(dt)), dim = s.head_dim, keys = s.kv_len;
  const int64_t score_row = keys * int64_t(sizeof(float));
  const int64_t q_chunk = std::clamp<int64_t>(kScoreBytes / score_row, 1, s.q_len);
  const int64_t h_chunk = std::clamp<int64_t>(kScoreBytes / (q_chunk * score_row), 1, s.heads);
  DeviceBuffer scores = ctx.buffer(size_t(h_chunk * q_chunk * score_row));
  // float32 probabilities overwrite their scores; 16-bit ones get a buffer of their own.
  DeviceBuffer probs_16 = dt == DType::F32 ? DeviceBuffer() : ctx.buffer(size_t(h_chunk * q_chunk * keys * el));
  void* probs = dt == DType::F32 ? scores.get() : probs_16.get();

  const auto* qb = static_cast<const char*>(q.ptr);
  const auto* kb = static_cast<const char*>(k.ptr);
  const auto* vb = static_cast<const char*>(v.ptr);
  auto* ob = static_cast<char*>(out);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h0 = 0; h0 < s.heads; h0 += h_chunk)
      for (int64_t q0 = 0; q0 < s.q_len; q0 += q_chunk) {
        const int64_t nh = std::min<int64_t>(h_chunk, s.heads - h0), nq = std::min(q_chunk, s.q_len - q0);
        const char* qp = qb + (b * q.batch_stride + q0 * q.row_stride + h0 * dim) * el;
        const char* kp = kb + (b * k.batch_stride + h0 * dim) * el;
        const char* vp = vb + (b * v.batch_stride + h0 * dim) * el;
        char* op = ob + (b * out_batch_stride + q0 * out_row_stride + h0 * dim) * el;
        // Scores, row-major [query, key] per head: S^T (keys x nq) = K (K^T stored dim x keys,
        // transposed) times Q^T (stored dim x nq), the scale applied by the product.
        gemm(ctx,
             {true, keys, nq, dim, k.row_stride, q.row_stride, keys, dim, dim, nq * keys, nh, type, CUDA_R_32F,
              alignment_of({address(kp), uint64_t(dim * el), uint64_t(k.row_stride * el)}),
              alignment_of({address(qp), uint64_t(dim * el), uint64_t(q.row_stride * el)}),
              alignment_of({address(scores.get()), uint64_t(nq * score_row)}), ctx.device()},
             scale, kp, qp, scores.get());
        softmax_scores(ctx, scores.as<float>(), probs, nh * nq, keys, nq, q0, causal, dt);
        // O^T (dim x nq, the output's rows) = V^T (stored dim x keys) times P^T (keys x nq).
        gemm(ctx,
             {false, dim, nq, keys, v.row_stride, keys, out_row_stride, dim, nq * keys, dim, nh, type, type,
              alignment_of({address(vp), uint64_t(dim * el), uint64_t(v.row_stride * el)}),
              alignment_of({address(probs), uint64_t(nq * keys * el), uint64_t(keys * el)}),
              alignment_of({address(op), uint64_t(dim * el), uint64_t(out_row_stride * el)}), ctx.device()},
             1.f, vp, probs, op);
      }
}

}  // namespace sd::cuda
