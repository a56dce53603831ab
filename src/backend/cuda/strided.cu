#include "backend/cuda/check.h"
#include "backend/cuda/elem.cuh"
#include "backend/cuda/strided.h"

namespace sd::cuda {

int64_t Extent::count() const {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= size[d];
  return n;
}

namespace {

// Kernel arguments by value: the extent and the strides of up to three views.
struct Index {
  int ndim;
  int64_t size[kMaxDims];
  int64_t stride[3][kMaxDims];

  // Offsets (elements) of linear index i in each view.
  __device__ void offsets(int64_t i, int64_t off[3]) const {
    off[0] = off[1] = off[2] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t c = i % size[d];
      i /= size[d];
      for (int v = 0; v < 3; ++v) off[v] += c * stride[v][d];
    }
  }
};

Index make_index(const Extent& e, const View* a, const View* b, const View* c) {
  SD_CHECK(e.ndim >= 0 && e.ndim <= kMaxDims, "at most " + std::to_string(kMaxDims) + " dimensions");
  Index ix{};
  ix.ndim = e.ndim;
  const View* views[3] = {a, b, c};
  for (int d = 0; d < e.ndim; ++d) {
    ix.size[d] = e.size[d];
    for (int v = 0; v < 3; ++v) ix.stride[v][d] = views[v] ? views[v]->stride[d] : 0;
  }
  return ix;
}

template <class S, class D>
__global__ void copy_kernel(Index ix, const S* src, D* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    ix.offsets(i, off);
    dst[off[1]] = from_f32<D>(to_f32(src[off[0]]));
  }
}

template <class D>
__global__ void fill_kernel(Index ix, D* dst, float value, int64_t n) {
  const D v = from_f32<D>(value);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    ix.offsets(i, off);
    dst[off[0]] = v;
  }
}

template <class A, class B, class Y>
__global__ void binary_strided_kernel(Index ix, const A* a, const B* b, Y* y, int64_t n, BinaryOp op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    ix.offsets(i, off);
    const float av = to_f32(a[off[0]]), bv = to_f32(b[off[1]]);
    y[off[2]] = from_f32<Y>(op == BinaryOp::Add ? av + bv : av * bv);
  }
}

}  // namespace

void copy_strided(Context& ctx, const Extent& extent, const View& src, const View& dst) {
  const Index ix = make_index(extent, &src, &dst, nullptr);
  const int64_t n = extent.count();
  if (n <= 0) return;
  dispatch_float(src.dt, [&](auto s) {
    using S = decltype(s);
    dispatch_float(dst.dt, [&](auto d) {
      using D = decltype(d);
      copy_kernel<S, D><<<grid_for(n), 256, 0, ctx.stream()>>>(ix, static_cast<const S*>(src.ptr),
                                                               static_cast<D*>(const_cast<void*>(dst.ptr)), n);
    });
  });
  SD_CUDA_CHECK_LAUNCH();
}

void fill_strided(Context& ctx, const Extent& extent, const View& dst, float value) {
  const Index ix = make_index(extent, &dst, nullptr, nullptr);
  const int64_t n = extent.count();
  if (n <= 0) return;
  dispatch_float(dst.dt, [&](auto d) {
    using D = decltype(d);
    fill_kernel<D><<<grid_for(n), 256, 0, ctx.stream()>>>(ix, static_cast<D*>(const_cast<void*>(dst.ptr)), value, n);
  });
  SD_CUDA_CHECK_LAUNCH();
}

void binary_strided(Context& ctx, const Extent& extent, const View& a, const View& b, const View& y, BinaryOp op) {
  SD_CHECK(a.dt == y.dt, "binary: the result has the first input's dtype");
  const Index ix = make_index(extent, &a, &b, &y);
  const int64_t n = extent.count();
  if (n <= 0) return;
  dispatch_float(a.dt, [&](auto at) {
    using A = decltype(at);
    dispatch_float(b.dt, [&](auto bt) {
      using B = decltype(bt);
      binary_strided_kernel<A, B, A><<<grid_for(n), 256, 0, ctx.stream()>>>(
          ix, static_cast<const A*>(a.ptr), static_cast<const B*>(b.ptr), static_cast<A*>(const_cast<void*>(y.ptr)), n,
          op);
    });
  });
  SD_CUDA_CHECK_LAUNCH();
}

}  // namespace sd::cuda
