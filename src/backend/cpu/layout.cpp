#include "backend/cpu/layout.h"

#include <cstring>

#include "backend/cpu/eltwise.h"
#include "backend/cpu/runtime.h"

namespace sd::cpu {

namespace {

// dst[c][r] = src[r][c] for an R x C matrix per batch item, in 32x32 tiles.
template <class T>
void transpose_batched(const T* src, T* dst, int64_t batch, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 32;
  const int64_t rt = (rows + kTile - 1) / kTile, ct = (cols + kTile - 1) / kTile;
  sync_threads();
#pragma omp parallel for collapse(2) schedule(static) if (batch * rows * cols >= (1 << 15))
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < rt * ct; ++t) {
      const int64_t r0 = (t / ct) * kTile, c0 = (t % ct) * kTile;
      const int64_t r1 = r0 + kTile < rows ? r0 + kTile : rows;
      const int64_t c1 = c0 + kTile < cols ? c0 + kTile : cols;
      const T* s = src + b * rows * cols;
      T* d = dst + b * rows * cols;
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) d[c * rows + r] = s[r * cols + c];
    }
}

Tensor transpose_layout(const Tensor& x, MemoryFormat fmt) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), fmt);
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  // Contiguous -> channels-last transposes [C][HW] into [HW][C], and back.
  const int64_t rows = fmt == MemoryFormat::ChannelsLast ? c : hw;
  const int64_t cols = fmt == MemoryFormat::ChannelsLast ? hw : c;
  switch (x.element_size()) {
    case 2:
      transpose_batched(static_cast<const uint16_t*>(x.raw_data()),
                        static_cast<uint16_t*>(out.raw_data()), n, rows, cols);
      break;
    case 4:
      transpose_batched(static_cast<const uint32_t*>(x.raw_data()),
                        static_cast<uint32_t*>(out.raw_data()), n, rows, cols);
      break;
    default: {
      Tensor o = out;
      copy(x, o);
    }
  }
  return out;
}

}  // namespace

Tensor to_format(const Tensor& x, DType dtype, MemoryFormat fmt) {
  if (x.dtype() == dtype && x.is_format(fmt)) return x;
  const bool four = x.ndim() == 4;
  SD_CHECK(fmt == MemoryFormat::Contiguous || four, "channels-last needs a 4-D tensor, got " + x.desc());
  const bool plain = x.is_contiguous() || (four && x.is_channels_last());
  if (plain && !x.is_format(fmt)) {
    // A pure layout swap: do the conversion on the smaller dtype's side.
    if (x.dtype() == dtype) return transpose_layout(x, fmt);
    if (dtype_size(dtype) <= x.element_size())
      return transpose_layout(to_format(x, dtype, x.is_contiguous() ? MemoryFormat::Contiguous
                                                                     : MemoryFormat::ChannelsLast),
                              fmt);
    return to_format(transpose_layout(x, fmt), dtype, fmt);
  }
  Tensor out = Tensor::empty(x.shape(), dtype, fmt);
  copy(x, out);
  return out;
}

Tensor upsample_nearest2x(const Tensor& x) {
  SD_CHECK(x.ndim() == 4, "upsample_nearest2x needs [N,C,H,W], got " + x.desc());
  Tensor in = to_format(x, x.dtype(), MemoryFormat::ChannelsLast);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = Tensor::empty({n, c, 2 * h, 2 * w}, x.dtype(), MemoryFormat::ChannelsLast);
  const size_t px = size_t(c) * x.element_size();  // bytes per pixel
  const char* src = static_cast<const char*>(in.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  sync_threads();
#pragma omp parallel for schedule(static) if (out.nbytes() >= (1 << 17))
  for (int64_t row = 0; row < n * h; ++row) {
    const char* s = src + row * w * px;
    char* d0 = dst + row * 2 * (2 * w) * px;  // output rows 2y and 2y+1
    for (int64_t x0 = 0; x0 < w; ++x0) {
      std::memcpy(d0 + (2 * x0) * px, s + x0 * px, px);
      std::memcpy(d0 + (2 * x0 + 1) * px, s + x0 * px, px);
    }
    std::memcpy(d0 + 2 * w * px, d0, 2 * w * px);
  }
  return out;
}

void write_phase(const Tensor& phase, Tensor& out, int dy, int dx) {
  const int64_t n = phase.size(0), c = phase.size(1), h = phase.size(2), w = phase.size(3);
  SD_CHECK(out.ndim() == 4 && out.size(0) == n && out.size(1) == c && out.size(2) == 2 * h &&
               out.size(3) == 2 * w && out.dtype() == phase.dtype() && out.is_channels_last(),
           "write_phase of " + phase.desc() + " into " + out.desc());
  Tensor in = to_format(phase, phase.dtype(), MemoryFormat::ChannelsLast);
  const size_t px = size_t(c) * phase.element_size();
  const char* src = static_cast<const char*>(in.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  sync_threads();
#pragma omp parallel for schedule(static) if (in.nbytes() >= (1 << 17))
  for (int64_t row = 0; row < n * h; ++row) {
    const int64_t b = row / h, y = row % h;
    const char* s = src + row * w * px;
    char* d = dst + ((b * 2 * h + 2 * y + dy) * 2 * w + dx) * px;
    for (int64_t x0 = 0; x0 < w; ++x0) std::memcpy(d + 2 * x0 * px, s + x0 * px, px);
  }
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  SD_CHECK(!xs.empty(), "concat of no tensors");
  const Tensor& first = xs[0];
  const int nd = first.ndim();
  if (dim < 0) dim += nd;
  SD_CHECK(dim >= 0 && dim < nd, "concat dimension out of range for " + first.desc());
  Shape shape = first.shape();
  int64_t total = 0;
  for (const Tensor& t : xs) {
    SD_CHECK(t.ndim() == nd, "concat of " + first.desc() + " and " + t.desc());
    for (int i = 0; i < nd; ++i)
      SD_CHECK(i == dim || t.size(i) == shape[i], "concat of " + first.desc() + " and " + t.desc() +
                                                      " along dimension " + std::to_string(dim));
    total += t.size(dim);
  }
  shape[dim] = total;
  Tensor out = empty_like_layout(first, shape, first.dtype());
  int64_t off = 0;
  for (const Tensor& t : xs) {
    Tensor part = out.narrow(dim, off, t.size(dim));
    copy(t, part);
    off += t.size(dim);
  }
  return out;
}

}  // namespace sd::cpu
