#include "backend/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/convert.h"
#include "backend/cpu/runtime.h"
#include "backend/cpu/simd.h"

namespace sd::cpu {

// Flash-style attention: for each (batch, head, block of query rows), walk the keys in
// tiles, computing the score tile with a small GEMM, folding it into a running (online)
// softmax and accumulating P V, so only one (rows x tile) score block exists per thread.
// K and V are packed once per call into the layouts the tile GEMMs read: on AVX512_BF16
// bf16 pairs for vdpbf16ps (fp32 accumulation), else fp32. With AMX the bf16 path's two
// products run on the tile unit instead, and the scores pass through a small f32 block.

namespace {

// Query rows per work item: up to 384, in steps of g.rows that each key tile serves in
// turn. A head's packed K and V outgrow the L2 cache at SD2.1's 9216 tokens (2.3 MiB), and
// were streamed from L3 for every step's rows: on a 2-core Sapphire Rapids VM, SD2.1's
// attention at 768, timed inside its UNet step, took 0.81-0.83 of the time of one step per
// item (SD1.5's at 512: 0.98-0.99; 192 and 768 rows measured slower than 384).
constexpr int64_t kItemRows = 384;

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

struct Operand {
  const char* base;
  int64_t sb, sl;  // element strides of batch and token
  DType dt;
  size_t es;
  const void* row(int64_t b, int64_t l, int64_t col) const {
    return base + (b * sb + l * sl + col) * int64_t(es);
  }
};

Operand operand(const Tensor& t) {
  return Operand{static_cast<const char*>(t.raw_data()), t.stride(0), t.stride(1), t.dtype(),
                 t.element_size()};
}

// n elements of a per-thread buffer, from a 64-byte boundary: tile loads and stores whose
// rows straddle cache lines ran at half speed (measured on SD1.5's value products).
template <class T>
T* grow(std::vector<T>& v, int64_t n) {
  constexpr int64_t kSlack = 64 / sizeof(T);
  if (int64_t(v.size()) < n + kSlack) v.resize(size_t(n + kSlack));
  return reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t(63));
}

struct Geometry {
  int64_t b, lq, lk, heads, d, hd;
  int64_t nk, tiles, d_pad, d2;  // key tile, tile count, padded head dim, head-dim pairs
  int64_t ldq;                   // bf16 query rows: 2 * d2, whole cache lines on the tile unit
  int64_t rows;                  // query rows per step
  float c;                       // scale * log2(e)
  bool causal;
  int64_t shift;  // causal: row i sees keys j <= i + shift
  const AmxKernels* amx;  // the bf16 path on the tile unit, or nullptr
};

// Pairs element type: bf16 kernels read (bf16, bf16) pairs; fp32 kernels plain floats.
template <bool Bf16>
struct Path;

template <>
struct Path<true> {
  using T = uint16_t;
  // K tile t: [d2][nk][2], or for the tile unit in blocks of 16 keys, [nk/16][d2][16][2];
  // V tile t: [nk/2][d_pad][2].
  static int64_t k_tile(const Geometry& g) { return g.d2 * g.nk * 2; }
  // Where key j's head-dim pair p goes in its K tile, counted in pairs.
  static int64_t k_pair(const Geometry& g, int64_t p, int64_t j) {
    return g.amx ? (j / 16 * g.d2 + p) * 16 + j % 16 : p * g.nk + j;
  }
  static int64_t v_tile(const Geometry& g) { return g.nk * g.d_pad; }
  // Row `l` of X's head h as `width` bf16 values, zero past the head dim: copied when X
  // is bf16 already, else converted through `row`.
  static void fetch(const Geometry& g, const Operand& X, int64_t b, int64_t l, int64_t h,
                    int64_t width, T* dst, float* row) {
    if (X.dt == DType::BF16) {
      std::memcpy(dst, X.row(b, l, h * g.d), size_t(g.d) * sizeof(T));
    } else {
      load_f32(X.row(b, l, h * g.d), X.dt, 1, row, g.d);
      kernels().f32_to_bf16(row, dst, g.d);
    }
    std::fill(dst + g.d, dst + width, T(0));
  }
  static void pack(const Geometry& g, const Operand& K, const Operand& V, int64_t b, int64_t h,
                   T* kp, T* vp, float* row) {
    if (K.dt == DType::BF16 && V.dt == DType::BF16) {
      pack_bf16(g, K, V, b, h, kp, vp);
      return;
    }
    // A key row is 2 * d2 wide (an odd head dim ends in a zero), a value row d_pad.
    std::vector<T> tmp(static_cast<size_t>(std::max(g.d_pad, 2 * g.d2)));
    for (int64_t t = 0; t < g.tiles; ++t) {
      T* kt = kp + t * k_tile(g);
      T* vt = vp + t * v_tile(g);
      for (int64_t j = 0; j < g.nk; ++j) {
        const int64_t key = t * g.nk + j;
        if (key < g.lk)
          fetch(g, K, b, key, h, 2 * g.d2, tmp.data(), row);
        else
          std::fill(tmp.begin(), tmp.end(), T(0));
        for (int64_t p = 0; p < g.d2; ++p)
          std::memcpy(kt + k_pair(g, p, j) * 2, tmp.data() + 2 * p, 2 * sizeof(T));
        if (key < g.lk)
          fetch(g, V, b, key, h, g.d_pad, tmp.data(), row);
        else
          std::fill(tmp.begin(), tmp.end(), T(0));
        T* vrow = vt + (j / 2) * g.d_pad * 2 + (j % 2);
        for (int64_t c = 0; c < g.d_pad; ++c) vrow[c * 2] = tmp[size_t(c)];
      }
    }
  }
  // The same layouts written straight from bf16 rows, a 32-bit word (one key's head-dim
  // pair, or two keys' values in one column) at a time, without staging each row.
  static void pack_bf16(const Geometry& g, const Operand& K, const Operand& V, int64_t b, int64_t h, T* kp,
                        T* vp) {
    const int64_t whole = g.d / 2;  // and d2 - whole is 1 where the head dim is odd
    const auto word = [](const uint16_t* lo) {
      uint32_t w;
      std::memcpy(&w, lo, sizeof w);
      return w;
    };
    const auto put = [](T* base, int64_t at, uint32_t w) { std::memcpy(base + 2 * at, &w, sizeof w); };
    for (int64_t t = 0; t < g.tiles; ++t) {
      T* kt = kp + t * k_tile(g);  // key j's pair p: word k_pair(p, j)
      T* vt = vp + t * v_tile(g);  // keys 2r and 2r + 1 in column c: word r * d_pad + c
      for (int64_t j = 0; j < g.nk; ++j) {
        const int64_t key = t * g.nk + j;
        if (key >= g.lk) {
          for (int64_t p = 0; p < g.d2; ++p) put(kt, k_pair(g, p, j), 0);
          continue;
        }
        const auto* r = static_cast<const uint16_t*>(K.row(b, key, h * g.d));
        for (int64_t p = 0; p < whole; ++p) put(kt, k_pair(g, p, j), word(r + 2 * p));
        if (g.d2 > whole) put(kt, k_pair(g, whole, j), r[g.d - 1]);
      }
      for (int64_t r = 0; r < g.nk / 2; ++r) {
        const int64_t key = t * g.nk + 2 * r;
        T* out = vt + 2 * r * g.d_pad;
        const auto* v0 = key < g.lk ? static_cast<const uint16_t*>(V.row(b, key, h * g.d)) : nullptr;
        const auto* v1 = key + 1 < g.lk ? static_cast<const uint16_t*>(V.row(b, key + 1, h * g.d)) : nullptr;
        if (v1) {  // and so v0
          for (int64_t c = 0; c < g.d; ++c) {
            out[2 * c] = v0[c];
            out[2 * c + 1] = v1[c];
          }
        } else {
          for (int64_t c = 0; c < g.d; ++c) {
            out[2 * c] = v0 ? v0[c] : T(0);
            out[2 * c + 1] = 0;
          }
        }
        std::fill(out + 2 * g.d, out + 2 * g.d_pad, T(0));
      }
    }
  }
  static void load_q(const Geometry& g, const Operand& Q, int64_t b, int64_t h, int64_t i0,
                     int64_t m, T* q, float* row) {
    for (int64_t i = 0; i < m; ++i) fetch(g, Q, b, i0 + i, h, 2 * g.d2, q + i * g.ldq, row);
  }
  // Each row keeps 16 partial sums of its probabilities (one per lane).
  static constexpr int64_t kSumLanes = 16;
  // Scores and online softmax in one pass into bf16 probabilities, then O += P V.
  static void step(const Geometry& g, int64_t m, int64_t valid, int64_t diag, const T* q, const T* kt,
                   const T* vt, float* s, T* p, float* mx, float* lsum, float* o) {
    // Scores and probabilities 32 rows at a time, each key block loaded serving two groups
    // of 16, in 64-key chunks where the rows' references are set (the tile stores then land
    // in the L1 cache: SD1.5's UNet step took 0.88 of the time of storing the whole tile's
    // scores first); then O += P V for all the block's rows, also 32 at a time for head
    // dims of whole 16-pair chunks (SD2.1's and SDXL's 64; SD2.1's step at 768: 0.89).
    // On a 2-core Sapphire Rapids VM, key tiles of 256 measured within the noise of 512.
    if (g.amx) {
      for (int64_t r = 0; r < m; r += 32) {
        const int64_t rows = std::min<int64_t>(32, m - r);
        const bool set = std::none_of(mx + r, mx + r + rows, [](float x) { return x == -INFINITY; });
        const int failed = set ? g.amx->scores_probabilities(rows, g.nk, g.d2, q + r * g.ldq, g.ldq, kt, valid, g.c,
                                                             g.causal, diag + r, mx + r, lsum + r * kSumLanes,
                                                             p + r * g.nk)
                               : 3;
        const bool both = rows > 16 && failed == 3;
        if (both) g.amx->scores_pair(g.nk, g.d2, q + r * g.ldq, g.ldq, kt, s + r * g.nk);
        for (int64_t f = r; f < r + rows; f += 16) {
          if (!(failed >> ((f - r) / 16) & 1)) continue;
          if (!both) g.amx->scores(g.nk, g.d2, q + f * g.ldq, g.ldq, kt, s + f * g.nk);
          g.amx->softmax(std::min<int64_t>(16, m - f), g.nk, s + f * g.nk, valid, g.c, g.causal, diag + f, mx + f,
                         lsum + f * kSumLanes, o + f * g.d_pad, g.d_pad, g.d, p + f * g.nk);
        }
      }
      for (int64_t r = 0; r < m;) {
        const bool two = g.d2 % 16 == 0 && m - r > 16;
        (two ? g.amx->accumulate_pair : g.amx->accumulate)(g.nk, g.d_pad, p + r * g.nk, vt, o + r * g.d_pad,
                                                           g.d_pad);
        r += two ? 32 : 16;
      }
      return;
    }
    kernels().attention_tile_bf16(m, g.nk, g.d2, q, g.ldq, kt, valid, g.c, g.causal, diag, mx, lsum,
                                  o, g.d_pad, g.d, p, g.nk);
    kernels().gemm_bf16(m, g.d_pad, g.nk / 2, p, g.nk, vt, o, g.d_pad, true);
  }
};

template <>
struct Path<false> {
  using T = float;
  // K tile t: [d][nk]; V tile t: [nk][d_pad].
  static int64_t k_tile(const Geometry& g) { return g.d * g.nk; }
  static int64_t v_tile(const Geometry& g) { return g.nk * g.d_pad; }
  static void pack(const Geometry& g, const Operand& K, const Operand& V, int64_t b, int64_t h,
                   T* kp, T* vp, float* row) {
    for (int64_t t = 0; t < g.tiles; ++t) {
      T* kt = kp + t * k_tile(g);
      T* vt = vp + t * v_tile(g);
      for (int64_t j = 0; j < g.nk; ++j) {
        const int64_t key = t * g.nk + j;
        if (key < g.lk) {
          load_f32(K.row(b, key, h * g.d), K.dt, 1, row, g.d);
          for (int64_t c = 0; c < g.d; ++c) kt[c * g.nk + j] = row[c];
          load_f32(V.row(b, key, h * g.d), V.dt, 1, vt + j * g.d_pad, g.d);
          for (int64_t c = g.d; c < g.d_pad; ++c) vt[j * g.d_pad + c] = 0.f;
        } else {
          for (int64_t c = 0; c < g.d; ++c) kt[c * g.nk + j] = 0.f;
          for (int64_t c = 0; c < g.d_pad; ++c) vt[j * g.d_pad + c] = 0.f;
        }
      }
    }
  }
  static void load_q(const Geometry& g, const Operand& Q, int64_t b, int64_t h, int64_t i0,
                     int64_t m, T* q, float*) {
    for (int64_t i = 0; i < m; ++i) load_f32(Q.row(b, i0 + i, h * g.d), Q.dt, 1, q + i * g.d, g.d);
  }
  static constexpr int64_t kSumLanes = 1;
  // Scores into S, the online softmax in place, then O += P V.
  static void step(const Geometry& g, int64_t m, int64_t valid, int64_t diag, const T* q, const T* kt,
                   const T* vt, float* s, T*, float* mx, float* l, float* o) {
    kernels().gemm_f32(m, g.nk, g.d, q, g.d, kt, g.nk, s, g.nk, false);
    kernels().softmax_tile(s, g.nk, m, valid, g.nk, g.c, g.causal, diag, mx, l, o, g.d_pad, g.d);
    kernels().gemm_f32(m, g.d_pad, g.nk, s, g.nk, vt, g.d_pad, o, g.d_pad, true);
  }
};

template <bool Bf16>
void run(const Geometry& g, const Operand& Q, const Operand& K, const Operand& V, Tensor& out) {
  using P = Path<Bf16>;
  using T = typename P::T;
  const DType pack_dt = Bf16 ? DType::BF16 : DType::F32;
  const int64_t kt_size = P::k_tile(g), vt_size = P::v_tile(g);
  const int64_t bh = g.b * g.heads;
  Tensor kp = Tensor::empty({bh, g.tiles * kt_size}, pack_dt);
  Tensor vp = Tensor::empty({bh, g.tiles * vt_size}, pack_dt);
  T* kbase = static_cast<T*>(kp.raw_data());
  T* vbase = static_cast<T*>(vp.raw_data());
  const int64_t steps = (g.lq + g.rows - 1) / g.rows;
  // Fewer steps per item where there are not four items a thread.
  const int64_t per_item =
      g.tiles > 1 ? std::clamp<int64_t>(bh * steps / (4 * num_threads()), 1, kItemRows / g.rows) : 1;
  const int64_t span = per_item * g.rows;
  const int64_t groups = (steps + per_item - 1) / per_item;
  const int64_t items = bh * groups;
  char* dst = static_cast<char*>(out.raw_data());
  const DType odt = out.dtype();
  const size_t oes = out.element_size();
  const bool par = bh * g.lk * g.d >= (1 << 14) || g.lq * g.lk * g.d * bh >= (1 << 18);
  sync_threads();
#pragma omp parallel if (par)
  {
    thread_local std::vector<float> row_buf, s_buf, o_buf, ml_buf;
    thread_local std::vector<T> q_buf, p_buf;
    float* row = grow(row_buf, g.d_pad + 2);
#pragma omp for schedule(static)
    for (int64_t x = 0; x < bh; ++x)
      P::pack(g, K, V, x / g.heads, x % g.heads, kbase + x * g.tiles * kt_size,
              vbase + x * g.tiles * vt_size, row);
    float* s = grow(s_buf, !Bf16 || g.amx ? g.rows * g.nk : 1);
    float* o = grow(o_buf, span * g.d_pad);
    float* mx = grow(ml_buf, span * (1 + P::kSumLanes));
    float* l = mx + span;
    T* q = grow(q_buf, span * (Bf16 ? g.ldq : g.d));
    T* p = grow(p_buf, Bf16 ? g.rows * g.nk : 1);
    if (g.amx) g.amx->configure(g.d2);
    const int64_t ld_q = Bf16 ? g.ldq : g.d;
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t x = it / groups, b = x / g.heads, h = x % g.heads;
      const int64_t i0 = (it % groups) * span;
      const int64_t m = std::min(span, g.lq - i0);
      P::load_q(g, Q, b, h, i0, m, q, row);
      // The tile products run on whole 16-row blocks: rows past m stay finite, unused.
      std::fill(o, o + span * g.d_pad, 0.f);
      std::fill(mx, mx + m, -INFINITY);
      std::fill(l, l + m * P::kSumLanes, 0.f);
      const auto tiles_for = [&](int64_t first, int64_t rows) {
        if (!g.causal) return g.tiles;
        const int64_t last_key = first + rows - 1 + g.shift;  // the last key any row here sees
        return last_key < 0 ? int64_t(0) : std::min(g.tiles, last_key / g.nk + 1);
      };
      const int64_t tiles = tiles_for(i0, m);
      for (int64_t t = 0; t < tiles; ++t) {
        const T* kt = kbase + x * g.tiles * kt_size + t * kt_size;
        const T* vt = vbase + x * g.tiles * vt_size + t * vt_size;
        const int64_t valid = std::min(g.nk, g.lk - t * g.nk);
        for (int64_t r = 0; r < m; r += g.rows) {
          const int64_t rows = std::min(g.rows, m - r);
          if (t >= tiles_for(i0 + r, rows)) continue;
          P::step(g, rows, valid, i0 + r + g.shift - t * g.nk, q + r * ld_q, kt, vt, s, p, mx + r,
                  l + r * P::kSumLanes, o + r * g.d_pad);
        }
      }
      for (int64_t i = 0; i < m; ++i) {
        float* oi = o + i * g.d_pad;
        float sum = 0.f;
        for (int64_t k = 0; k < P::kSumLanes; ++k) sum += l[i * P::kSumLanes + k];
        const float inv = sum > 0.f ? 1.f / sum : 0.f;  // a row that sees no key gets zeros
        for (int64_t c = 0; c < g.d; ++c) oi[c] *= inv;
        store_f32(oi, dst + ((b * g.lq + i0 + i) * g.hd + h * g.d) * int64_t(oes), odt, 1, g.d);
      }
    }
    if (g.amx) g.amx->release();
  }
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal,
                 float scale) {
  SD_CHECK(q.ndim() == 3 && k.ndim() == 3 && v.ndim() == 3,
           "attention needs [B, L, H*D] tensors, got " + q.desc() + ", " + k.desc() + ", " + v.desc());
  const int64_t b = q.size(0), lq = q.size(1), lk = k.size(1), hd = q.size(2);
  SD_CHECK(k.size(0) == b && v.size(0) == b && v.size(1) == lk && k.size(2) == hd &&
               v.size(2) == hd,
           "attention shapes disagree: q " + q.desc() + ", k " + k.desc() + ", v " + v.desc());
  SD_CHECK(heads > 0 && hd % heads == 0,
           std::to_string(hd) + " features do not split into " + std::to_string(heads) + " heads");
  SD_CHECK(q.stride(2) == 1 && k.stride(2) == 1 && v.stride(2) == 1,
           "attention needs a contiguous last dimension");
  Tensor out = Tensor::empty({b, lq, hd}, q.dtype());
  if (out.numel() == 0) return out;
  Geometry g;
  g.b = b;
  g.lq = lq;
  g.lk = lk;
  g.heads = heads;
  g.hd = hd;
  g.d = hd / heads;
  // Each key tile costs every query row a max, a sum and a rescale, so tiles are long:
  // as many keys as keep the packed K tile near 64 KiB (it is read once per 6 query rows),
  // 128 to 512, balanced so the padding stays under 16 keys a tile. Few keys (cross-
  // attention on 77 tokens) make one tile.
  // bf16 inputs use the bf16 dot-product kernels where the CPU has them.
  const bool bf16 = q.dtype() == DType::BF16 && kernels().gemm_bf16;
  g.amx = bf16 ? amx_kernels() : nullptr;
  const int64_t max_keys = std::clamp<int64_t>((64 << 10) / (g.d * (bf16 ? 2 : 4)), 128, 512);
  g.tiles = (lk + max_keys - 1) / max_keys;
  g.nk = round_up((lk + g.tiles - 1) / g.tiles, g.amx ? 32 : 16);
  g.d2 = (g.d + 1) / 2;
  g.ldq = g.amx ? round_up(2 * g.d2, 32) : 2 * g.d2;
  // Steps of 64 rows on the tile unit for head dims of whole 16-pair chunks, whose scores
  // and value products both run 32 rows at a time (SD2.1's attention at 768 in its UNet
  // step: 0.91-0.93 of the time of 48 rows; SD1.5's 40 at 512: 1.03-1.05); else 48, whole
  // blocks of the AVX-512 kernels' 6 rows.
  g.rows = g.amx && g.d2 % 16 == 0 ? 64 : 48;
  if (scale == 0.f) scale = 1.f / std::sqrt(float(g.d));
  g.c = scale * float(M_LOG2E);
  g.causal = causal;
  g.shift = lk - lq;
  const Operand Q = operand(q), K = operand(k), V = operand(v);
  // The output accumulator's row is padded to the kernels' column step: 8 for the bf16
  // kernels (head dim 40 stays 40), 16 for the f32 ones and the tile products.
  if (bf16) {
    g.d_pad = round_up(g.d, g.amx ? 16 : 8);
    run<true>(g, Q, K, V, out);
  } else {
    g.d_pad = round_up(g.d, 16);
    run<false>(g, Q, K, V, out);
  }
  return out;
}

}  // namespace sd::cpu
