#include "backend/cpu/norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/convert.h"
#include "backend/cpu/eltwise.h"
#include "backend/cpu/layout.h"
#include "backend/cpu/rows.h"
#include "backend/cpu/runtime.h"
#include "backend/cpu/simd.h"

namespace sd::cpu {

namespace {

constexpr int64_t kChunk = 8192;  // floats a thread loads at once

// Running mean and sum of squared deviations, merged with Chan et al.'s formula so that
// float32 chunk statistics combine without cancellation.
struct Moments {
  double n = 0, mean = 0, m2 = 0;
  void merge(double nb, double mean_b, double m2_b) {
    if (nb == 0) return;
    const double tot = n + nb, delta = mean_b - mean;
    mean += delta * nb / tot;
    m2 += m2_b + delta * delta * n * nb / tot;
    n = tot;
  }
  void merge(const Moments& o) { merge(o.n, o.mean, o.m2); }
};

std::vector<float>& scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

void apply_silu(float* v, int64_t n, bool silu) {
  if (silu) kernels().activation(v, n, Act::SiLU);
}

// x in NCHW order: each group is one contiguous block of (C/G)*S elements.
void group_norm_planar(const Tensor& x, Tensor& out, int groups, const float* gamma,
                       const float* beta, float eps, bool silu) {
  const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c), cg = c / groups;
  const int64_t block = cg * s, chunks = (block + kChunk - 1) / kChunk;
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  const size_t es = x.element_size();
  const DType dt = x.dtype();
  std::vector<Moments> stats(size_t(n * groups));
  sync_threads();
#pragma omp parallel for schedule(static) if (x.numel() >= (1 << 15))
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    float* buf = scratch(kChunk).data();
    Moments m;
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t len = std::min(kChunk, block - k * kChunk);
      load_f32(src + (ng * block + k * kChunk) * int64_t(es), dt, 1, buf, len);
      double mu, m2;
      kernels().moments(buf, len, &mu, &m2);
      m.merge(double(len), mu, m2);
    }
    stats[size_t(ng)] = m;
  }
#pragma omp parallel for schedule(static) if (x.numel() >= (1 << 15))
  for (int64_t nc = 0; nc < n * c; ++nc) {
    float* buf = scratch(kChunk).data();
    const int64_t ch = nc % c;
    const Moments& m = stats[size_t((nc / c) * groups + ch / cg)];
    const double rstd = 1.0 / std::sqrt(m.m2 / m.n + double(eps));
    const float a = float(rstd * (gamma ? gamma[ch] : 1.f));
    const float b = float((beta ? beta[ch] : 0.f) - m.mean * rstd * (gamma ? gamma[ch] : 1.f));
    for (int64_t k = 0; k < s; k += kChunk) {
      const int64_t len = std::min(kChunk, s - k);
      load_f32(src + (nc * s + k) * int64_t(es), dt, 1, buf, len);
      for (int64_t i = 0; i < len; ++i) buf[i] = buf[i] * a + b;
      apply_silu(buf, len, silu);
      store_f32(buf, dst + (nc * s + k) * int64_t(es), dt, 1, len);
    }
  }
}

// x channels-last: N x S pixels of C channels; statistics over pixel chunks.
void group_norm_channels_last(const Tensor& x, Tensor& out, int groups, const float* gamma,
                              const float* beta, float eps, bool silu) {
  const int64_t n = x.size(0), c = x.size(1), s = x.size(2) * x.size(3), cg = c / groups;
  const int64_t px = std::max<int64_t>(1, kChunk / c);  // pixels per chunk
  const int64_t chunks = (s + px - 1) / px;
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  const size_t es = x.element_size();
  const DType dt = x.dtype();
  const int64_t items = n * chunks;
  const bool par = x.numel() >= (1 << 15);
  // Per-thread partial statistics, merged in thread order so results are reproducible.
  sync_threads();
  const int nt = par ? num_threads() : 1;
  std::vector<std::vector<Moments>> partial(size_t(nt), std::vector<Moments>(size_t(n * groups)));
#pragma omp parallel num_threads(nt) if (par)
  {
    std::vector<Moments>& local = partial[size_t(omp_get_thread_num())];
    std::vector<float> colsum(static_cast<size_t>(c)), colsq(static_cast<size_t>(c)), mu(static_cast<size_t>(c));
    // bf16 pixels are summed where they lie (the chunk stays in L1 for the second pass),
    // other types through a float32 copy.
    const bool direct = dt == DType::BF16 && kernels().column_sums_bf16;
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; ++it) {
      float* buf = scratch(size_t(px * c)).data();
      const int64_t b = it / chunks, p0 = (it % chunks) * px;
      const int64_t np = std::min(px, s - p0);
      const char* at = src + (b * s + p0) * c * int64_t(es);
      // colsum, or with centre, colsq: the chunk's column sums of x or of (x - centre)^2.
      const auto column_sums = [&](const float* centre, std::vector<float>& sums) {
        std::fill(sums.begin(), sums.end(), 0.f);
        if (direct) {
          kernels().column_sums_bf16(reinterpret_cast<const uint16_t*>(at), np, c, centre, sums.data());
          return;
        }
        for (int64_t p = 0; p < np; ++p)
          for (int64_t ch = 0; ch < c; ++ch) {
            const float v = centre ? buf[p * c + ch] - centre[ch] : buf[p * c + ch];
            sums[size_t(ch)] += centre ? v * v : v;
          }
      };
      if (!direct) load_f32(at, dt, 1, buf, np * c);
      column_sums(nullptr, colsum);
      for (int64_t g = 0; g < groups; ++g) {
        float gs = 0.f;
        for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) gs += colsum[size_t(ch)];
        const float gm = gs / float(np * cg);
        for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) mu[size_t(ch)] = gm;
      }
      column_sums(mu.data(), colsq);
      for (int64_t g = 0; g < groups; ++g) {
        float q = 0.f;
        for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) q += colsq[size_t(ch)];
        local[size_t(b * groups + g)].merge(double(np * cg), mu[size_t(g * cg)], q);
      }
    }
  }
  std::vector<Moments> stats(size_t(n * groups));
  for (const auto& local : partial)
    for (size_t i = 0; i < local.size(); ++i) stats[i].merge(local[i]);
  // Per-(image, channel) scale and shift.
  std::vector<float> a(size_t(n * c)), sh(size_t(n * c));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      const Moments& m = stats[size_t(b * groups + ch / cg)];
      const double rstd = 1.0 / std::sqrt(m.m2 / m.n + double(eps));
      const double gm = gamma ? gamma[ch] : 1.0;
      a[size_t(b * c + ch)] = float(rstd * gm);
      sh[size_t(b * c + ch)] = float((beta ? beta[ch] : 0.0) - m.mean * rstd * gm);
    }
#pragma omp parallel for schedule(static) if (par)
  for (int64_t it = 0; it < items; ++it) {
    float* buf = scratch(size_t(px * c)).data();
    const int64_t b = it / chunks, p0 = (it % chunks) * px;
    const int64_t np = std::min(px, s - p0);
    const float* ab = a.data() + b * c;
    const float* sb = sh.data() + b * c;
    if (dt == DType::BF16 && kernels().affine_bf16) {
      const int64_t at = (b * s + p0) * c;
      kernels().affine_bf16(reinterpret_cast<const uint16_t*>(src) + at, ab, sb,
                            reinterpret_cast<uint16_t*>(dst) + at, np, c, silu);
      continue;
    }
    load_f32(src + (b * s + p0) * c * int64_t(es), dt, 1, buf, np * c);
    for (int64_t p = 0; p < np; ++p) kernels().affine(buf + p * c, ab, sb, buf + p * c, c, silu);
    store_f32(buf, dst + (b * s + p0) * c * int64_t(es), dt, 1, np * c);
  }
}

void check_groups(const Tensor& x, int groups) {
  SD_CHECK(x.ndim() >= 2, "group norm needs [N, C, ...], got " + x.desc());
  SD_CHECK(groups > 0 && x.size(1) % groups == 0,
           std::to_string(x.size(1)) + " channels do not split into " + std::to_string(groups) +
               " groups");
}

bool dense_channels_last(const Tensor& x) { return x.ndim() == 4 && x.is_channels_last() && !x.is_contiguous(); }

}  // namespace

Tensor group_norm(const Tensor& x, int groups, const float* gamma, const float* beta, float eps,
                  bool silu) {
  check_groups(x, groups);
  if (x.numel() == 0) return Tensor::empty(x.shape(), x.dtype());
  if (dense_channels_last(x)) {
    Tensor out = Tensor::empty(x.shape(), x.dtype(), MemoryFormat::ChannelsLast);
    group_norm_channels_last(x, out, groups, gamma, beta, eps, silu);
    return out;
  }
  Tensor in = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  group_norm_planar(in, out, groups, gamma, beta, eps, silu);
  return out;
}

// Both kernels load a chunk, transform it and store it back to the same place, so the
// output may be the input.
void group_norm_(Tensor& x, int groups, const float* gamma, const float* beta, float eps, bool silu) {
  check_groups(x, groups);
  if (x.numel() == 0) return;
  if (dense_channels_last(x))
    group_norm_channels_last(x, x, groups, gamma, beta, eps, silu);
  else if (x.is_contiguous())
    group_norm_planar(x, x, groups, gamma, beta, eps, silu);
  else
    x = group_norm(x, groups, gamma, beta, eps, silu);
}

Tensor layer_norm(const Tensor& x, const float* gamma, const float* beta, float eps) {
  Rows r = as_rows(x);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const DType dt = x.dtype();
  const size_t es = x.element_size();
  char* dst = static_cast<char*>(out.raw_data());
  sync_threads();
#pragma omp parallel for schedule(static) if (x.numel() >= (1 << 15))
  for (int64_t i = 0; i < r.m; ++i) {
    float* buf = scratch(size_t(r.c)).data();
    load_f32(r.row(i), dt, 1, buf, r.c);
    double mean, m2;
    kernels().moments(buf, r.c, &mean, &m2);
    const float rstd = float(1.0 / std::sqrt(m2 / double(r.c) + double(eps)));
    const float mu = float(mean);
    for (int64_t j = 0; j < r.c; ++j) {
      const float v = (buf[j] - mu) * rstd;
      buf[j] = v * (gamma ? gamma[j] : 1.f) + (beta ? beta[j] : 0.f);
    }
    store_f32(buf, dst + i * r.c * int64_t(es), dt, 1, r.c);
  }
  return out;
}

Tensor softmax(const Tensor& x) {
  Rows r = as_rows(x);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const DType dt = x.dtype();
  const size_t es = x.element_size();
  char* dst = static_cast<char*>(out.raw_data());
  const auto& k = kernels();
  sync_threads();
#pragma omp parallel for schedule(static) if (x.numel() >= (1 << 15))
  for (int64_t i = 0; i < r.m; ++i) {
    float* buf = scratch(size_t(r.c)).data();
    load_f32(r.row(i), dt, 1, buf, r.c);
    const float mx = k.max(buf, r.c);
    const float inv = 1.f / k.exp_shift_sum(buf, r.c, mx);
    for (int64_t j = 0; j < r.c; ++j) buf[j] *= inv;
    store_f32(buf, dst + i * r.c * int64_t(es), dt, 1, r.c);
  }
  return out;
}

}  // namespace sd::cpu
