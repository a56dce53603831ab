#include <mma.h>

#include <cmath>
#include <type_traits>

#include "backend/cuda/attention.h"
#include "backend/cuda/check.h"
#include "backend/cuda/elem.cuh"

namespace sd::cuda {

namespace {

using namespace nvcuda;

// A block of kWarps warps takes kTile query rows of one (batch, head), each warp 16 of
// them, and walks the keys kTile at a time: S = Q K^T and O += P V on 16x16x16 tensor-core
// fragments, the softmax statistics in float32 registers, O in float32 shared memory
// (rescaled row by row, which fragments do not allow).
constexpr int kTile = 64;
constexpr int kWarps = kTile / 16;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxTensorCoreHeadDim = 256;  // the tiles' shared memory grows with it
constexpr int kMaxHeadDim = 512;            // the VAE's single 512-wide head

struct Params {
  const void *q, *k, *v;
  void* out;
  int64_t q_batch, q_row, k_batch, k_row, v_batch, v_row, o_batch, o_row;
  int q_len, kv_len, head_dim, padded_dim, heads, batch;
  float scale_log2;  // scale * log2(e): the softmax runs on exp2
  bool causal, vector_loads;
};

size_t shared_bytes(int dp) {
  return size_t(3 * kTile * dp) * 2            // Q, K, V tiles (16-bit)
         + size_t(kWarps * 16 * kTile) * 4     // S per warp (float32)
         + size_t(kWarps * 16 * kTile) * 2     // P per warp (16-bit)
         + size_t(kWarps * 16 * dp) * 4;       // O per warp (float32)
}

// dst [kTile x dp] from `rows` rows of `src` (row stride in elements); rows past `rows` and
// columns past `d` are zero, so padding adds nothing to any product.
template <class T>
__device__ void load_tile(T* dst, const T* src, int64_t row_stride, int rows, int d, int dp, bool vector_loads) {
  const int chunks = dp / 8;
  for (int i = threadIdx.x; i < kTile * chunks; i += kThreads) {
    const int r = i / chunks, c = (i % chunks) * 8;
    T* o = dst + r * dp + c;
    if (vector_loads && r < rows && c + 8 <= d) {
      *reinterpret_cast<uint4*>(o) = *reinterpret_cast<const uint4*>(src + r * row_stride + c);
    } else {
      for (int e = 0; e < 8; ++e) o[e] = (r < rows && c + e < d) ? src[r * row_stride + c + e] : from_f32<T>(0.f);
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads) flash_attention_kernel(Params p) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int dp = p.padded_dim, d = p.head_dim;
  T* qs = reinterpret_cast<T*>(smem);
  T* ks = qs + kTile * dp;
  T* vs = ks + kTile * dp;
  float* ss = reinterpret_cast<float*>(vs + kTile * dp);
  T* ps = reinterpret_cast<T*>(ss + kWarps * 16 * kTile);
  float* os = reinterpret_cast<float*>(ps + kWarps * 16 * kTile);

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* sw = ss + warp * 16 * kTile;
  T* pw = ps + warp * 16 * kTile;
  float* ow = os + warp * 16 * dp;

  const int64_t b = blockIdx.z, h = blockIdx.y;
  const int q0 = blockIdx.x * kTile;
  const T* q = static_cast<const T*>(p.q) + b * p.q_batch + int64_t(q0) * p.q_row + h * d;
  const T* k = static_cast<const T*>(p.k) + b * p.k_batch + h * d;
  const T* v = static_cast<const T*>(p.v) + b * p.v_batch + h * d;

  load_tile(qs, q, p.q_row, min(kTile, p.q_len - q0), d, dp, p.vector_loads);
  for (int i = lane; i < 16 * dp; i += 32) ow[i] = 0.f;

  // Lane pairs own one row of the warp's 16: lane/2 is the row, lane%2 the half of the
  // columns; both lanes keep the row's running max (log2 domain) and sum.
  const int row = lane >> 1, half = lane & 1;
  const int qi = q0 + warp * 16 + row;
  float m = -INFINITY, l = 0.f;

  const int kv_end = p.causal ? min(p.kv_len, q0 + kTile) : p.kv_len;
  for (int k0 = 0; k0 < kv_end; k0 += kTile) {
    __syncthreads();  // every warp is done with the previous K/V tiles
    const int rows = min(kTile, p.kv_len - k0);
    load_tile(ks, k + int64_t(k0) * p.k_row, p.k_row, rows, d, dp, p.vector_loads);
    load_tile(vs, v + int64_t(k0) * p.v_row, p.v_row, rows, d, dp, p.vector_loads);
    __syncthreads();

    // S = Q K^T for this warp's 16 rows: K's rows read as a column-major K^T.
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kTile / 16];
    for (int j = 0; j < kTile / 16; ++j) wmma::fill_fragment(acc[j], 0.f);
    for (int kk = 0; kk < dp; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
      wmma::load_matrix_sync(a, qs + warp * 16 * dp + kk, dp);
      for (int j = 0; j < kTile / 16; ++j) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bt;
        wmma::load_matrix_sync(bt, ks + j * 16 * dp + kk, dp);
        wmma::mma_sync(acc[j], a, bt, acc[j]);
      }
    }
    for (int j = 0; j < kTile / 16; ++j) wmma::store_matrix_sync(sw + j * 16, acc[j], kTile, wmma::mem_row_major);
    __syncwarp();

    // Online softmax over this tile's columns of the row.
    float* srow = sw + row * kTile + half * (kTile / 2);
    T* prow = pw + row * kTile + half * (kTile / 2);
    float tile_max = -INFINITY;
    for (int c = 0; c < kTile / 2; ++c) {
      const int key = k0 + half * (kTile / 2) + c;
      float s = srow[c] * p.scale_log2;
      if (key >= p.kv_len || (p.causal && key > qi)) s = -INFINITY;
      srow[c] = s;
      tile_max = fmaxf(tile_max, s);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float m_new = fmaxf(m, tile_max);
    const float base = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing unmasked yet
    const float alpha = m == -INFINITY ? 0.f : exp2f(m - base);
    float sum = 0.f;
    for (int c = 0; c < kTile / 2; ++c) {
      const float e = srow[c] == -INFINITY ? 0.f : exp2f(srow[c] - base);
      prow[c] = from_f32<T>(e);
      sum += e;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * alpha + sum;
    m = m_new;
    for (int c = half; c < dp; c += 2) ow[row * dp + c] *= alpha;
    __syncwarp();

    // O += P V.
    for (int dd = 0; dd < dp; dd += 16) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
      wmma::load_matrix_sync(o, ow + dd, dp, wmma::mem_row_major);
      for (int kk = 0; kk < kTile; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bv;
        wmma::load_matrix_sync(a, pw + kk, kTile);
        wmma::load_matrix_sync(bv, vs + kk * dp + dd, dp);
        wmma::mma_sync(o, a, bv, o);
      }
      wmma::store_matrix_sync(ow + dd, o, dp, wmma::mem_row_major);
    }
    __syncwarp();
  }

  if (qi < p.q_len) {
    T* out = static_cast<T*>(p.out) + b * p.o_batch + int64_t(qi) * p.o_row + h * d;
    const float inv = l > 0.f ? 1.f / l : 0.f;
    for (int c = half; c < d; c += 2) out[c] = from_f32<T>(ow[row * dp + c] * inv);
  }
}

// Attention on CUDA cores, one warp per query row, each lane holding head_dim/32 of the
// row's values, an online softmax over the keys: float32 inputs (the reference-precision
// path) and heads too wide for the tensor-core tiles (the VAE's 512).
constexpr int kPerLane = kMaxHeadDim / 32;

template <class T>
__global__ void __launch_bounds__(128) attention_rows_kernel(Params p) {
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (r >= int64_t(p.batch) * p.heads * p.q_len) return;
  const int i = int(r % p.q_len);
  const int64_t h = (r / p.q_len) % p.heads, b = r / (int64_t(p.q_len) * p.heads);
  const int d = p.head_dim;
  const T* q = static_cast<const T*>(p.q) + b * p.q_batch + int64_t(i) * p.q_row + h * d;
  const T* k = static_cast<const T*>(p.k) + b * p.k_batch + h * d;
  const T* v = static_cast<const T*>(p.v) + b * p.v_batch + h * d;
  float qv[kPerLane], acc[kPerLane];
  for (int j = 0; j < kPerLane; ++j) {
    const int e = lane + 32 * j;
    qv[j] = e < d ? to_f32(q[e]) : 0.f;
    acc[j] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const int end = p.causal ? min(p.kv_len, i + 1) : p.kv_len;
  for (int key = 0; key < end; ++key) {
    const T* kr = k + int64_t(key) * p.k_row;
    float dot = 0.f;
    for (int j = 0; j < kPerLane; ++j) {
      const int e = lane + 32 * j;
      if (e < d) dot += qv[j] * to_f32(kr[e]);
    }
    for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    const float s = dot * p.scale_log2, m_new = fmaxf(m, s);
    const float alpha = exp2f(m - m_new), e_s = exp2f(s - m_new);  // exp2(-inf) = 0 on the first key
    l = l * alpha + e_s;
    const T* vr = v + int64_t(key) * p.v_row;
    for (int j = 0; j < kPerLane; ++j) {
      const int e = lane + 32 * j;
      acc[j] = acc[j] * alpha + (e < d ? e_s * to_f32(vr[e]) : 0.f);
    }
    m = m_new;
  }
  T* out = static_cast<T*>(p.out) + b * p.o_batch + int64_t(i) * p.o_row + h * d;
  for (int j = 0; j < kPerLane; ++j) {
    const int e = lane + 32 * j;
    if (e < d) out[e] = from_f32<T>(acc[j] / l);
  }
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

void attention(Context& ctx, const AttentionOperand& q, const AttentionOperand& k, const AttentionOperand& v,
               void* out, int64_t out_batch_stride, int64_t out_row_stride, const AttentionShape& s, bool causal,
               float scale, DType dt) {
  SD_CHECK(dt == DType::F32 || dt == DType::F16 || dt == DType::BF16, "CUDA attention takes f32, f16 or bf16");
  SD_CHECK(s.head_dim > 0 && s.head_dim <= kMaxHeadDim, "head dim must be 1.." + std::to_string(kMaxHeadDim));
  SD_CHECK(s.heads > 0 && s.heads <= 65535 && s.batch <= 65535, "too many heads or batches");
  SD_CHECK(s.q_len <= 0x7fffffff && s.kv_len <= 0x7fffffff, "sequence too long");
  if (s.batch <= 0 || s.q_len <= 0) return;
  SD_CHECK(s.kv_len > 0, "attention needs at least one key");

  Params p{};
  p.q = q.ptr, p.k = k.ptr, p.v = v.ptr, p.out = out;
  p.q_batch = q.batch_stride, p.q_row = q.row_stride;
  p.k_batch = k.batch_stride, p.k_row = k.row_stride;
  p.v_batch = v.batch_stride, p.v_row = v.row_stride;
  p.o_batch = out_batch_stride, p.o_row = out_row_stride;
  p.q_len = int(s.q_len), p.kv_len = int(s.kv_len), p.head_dim = s.head_dim;
  p.heads = s.heads, p.batch = int(s.batch);
  p.padded_dim = (s.head_dim + 15) / 16 * 16;
  p.scale_log2 = scale * 1.4426950408889634f;
  p.causal = causal;
  // 16-byte loads when every row start of every head is 16-byte aligned.
  p.vector_loads = aligned16(q.ptr) && aligned16(k.ptr) && aligned16(v.ptr) && s.head_dim % 8 == 0 &&
                   q.row_stride % 8 == 0 && k.row_stride % 8 == 0 && v.row_stride % 8 == 0 &&
                   q.batch_stride % 8 == 0 && k.batch_stride % 8 == 0 && v.batch_stride % 8 == 0;

  if (dt == DType::F32 || s.head_dim > kMaxTensorCoreHeadDim) {
    const int64_t warps = s.batch * s.heads * s.q_len;
    SD_CHECK(warps <= int64_t(0x7fffffff) * 4, "attention too large");
    dispatch_float(dt, [&](auto t) {
      using T = decltype(t);
      attention_rows_kernel<T><<<unsigned((warps + 3) / 4), 128, 0, ctx.stream()>>>(p);
    });
    SD_CUDA_CHECK_LAUNCH();
    return;
  }
  const size_t smem = shared_bytes(p.padded_dim);
  const dim3 grid(unsigned((s.q_len + kTile - 1) / kTile), unsigned(s.heads), unsigned(s.batch));
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_same_v<T, float>) {
      // Shared memory beyond the default 48 KB is opted into per kernel and device; the
      // call is cheap, so it is made for each launch rather than tracked.
      SD_CUDA_CHECK(cudaFuncSetAttribute(flash_attention_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         int(smem)));
      flash_attention_kernel<T><<<grid, kThreads, smem, ctx.stream()>>>(p);
    }
  });
  SD_CUDA_CHECK_LAUNCH();
}

}  // namespace sd::cuda
