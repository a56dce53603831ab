#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/convert.h"
#include "backend/cpu/runtime.h"
#include "backend/cpu/simd.h"

namespace sd::cpu {

namespace {

constexpr int64_t kBlock = 32;  // query rows per work item

struct Operand {
  const char* base;
  int64_t sb, sl;  // element strides of batch and token
  DType dt;
  size_t es;
  const char* row(int64_t b, int64_t l, int64_t col) const {
    return base + (b * sb + l * sl + col) * int64_t(es);
  }
};

Operand operand(const Tensor& t) {
  return Operand{static_cast<const char*>(t.raw_data()), t.stride(0), t.stride(1), t.dtype(),
                 t.element_size()};
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
  const int64_t d = hd / heads;
  if (scale == 0.f) scale = 1.f / std::sqrt(float(d));
  Tensor out = Tensor::empty({b, lq, hd}, q.dtype());
  if (out.numel() == 0) return out;
  const Operand Q = operand(q), K = operand(k), V = operand(v);
  char* dst = static_cast<char*>(out.raw_data());
  const DType odt = out.dtype();
  const size_t oes = out.element_size();
  const int64_t qblocks = (lq + kBlock - 1) / kBlock;
  const int64_t items = b * heads * qblocks;
  const int64_t shift = lk - lq;  // causal: row i sees keys j <= i + shift
  const auto& ker = kernels();
  sync_threads();
#pragma omp parallel
  {
    std::vector<float> kf(size_t(lk * d)), vf(size_t(lk * d)), qf(size_t(kBlock * d)),
        s(size_t(kBlock * lk)), o(size_t(kBlock * d));
    int64_t loaded = -1;  // (batch, head) whose k and v sit in kf/vf
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t bh = it / qblocks, bi = bh / heads, h = bh % heads;
      const int64_t i0 = (it % qblocks) * kBlock, ni = std::min(kBlock, lq - i0);
      if (loaded != bh) {
        for (int64_t j = 0; j < lk; ++j) {
          load_f32(K.row(bi, j, h * d), K.dt, 1, kf.data() + j * d, d);
          load_f32(V.row(bi, j, h * d), V.dt, 1, vf.data() + j * d, d);
        }
        loaded = bh;
      }
      for (int64_t i = 0; i < ni; ++i) {
        float* qi = qf.data() + i * d;
        load_f32(Q.row(bi, i0 + i, h * d), Q.dt, 1, qi, d);
        for (int64_t c = 0; c < d; ++c) qi[c] *= scale;
      }
      for (int64_t i = 0; i < ni; ++i) {
        const float* qi = qf.data() + i * d;
        float* si = s.data() + i * lk;
        const int64_t nj = causal ? std::min(lk, std::max<int64_t>(0, i0 + i + shift + 1)) : lk;
        for (int64_t j = 0; j < nj; ++j) {
          const float* kj = kf.data() + j * d;
          float acc = 0.f;
          for (int64_t c = 0; c < d; ++c) acc += qi[c] * kj[c];
          si[j] = acc;
        }
        float* oi = o.data() + i * d;
        std::fill(oi, oi + d, 0.f);  // a row that sees no key gets zeros
        if (nj > 0) {
          float mx = -INFINITY;
          for (int64_t j = 0; j < nj; ++j) mx = si[j] > mx ? si[j] : mx;
          const float inv = 1.f / ker.exp_shift_sum(si, nj, mx);
          for (int64_t j = 0; j < nj; ++j) {
            const float p = si[j] * inv;
            const float* vj = vf.data() + j * d;
            for (int64_t c = 0; c < d; ++c) oi[c] += p * vj[c];
          }
        }
        store_f32(oi, dst + ((bi * lq + i0 + i) * hd + h * d) * int64_t(oes), odt, 1, d);
      }
    }
  }
  return out;
}

}  // namespace sd::cpu
