#include "backend/cuda/tensor_views.h"

#include "core/error.h"

namespace sd::cuda {

Extent extent_of(const Shape& shape) {
  SD_CHECK(shape.size() <= kMaxDims, "CUDA kernels take at most " + std::to_string(kMaxDims) +
                                         " dimensions, got " + shape.str());
  Extent e;
  e.ndim = shape.size();
  for (int d = 0; d < e.ndim; ++d) e.size[d] = shape[d];
  return e;
}

View view_of(const Tensor& t) {
  View v;
  v.ptr = t.device_data();
  v.dt = t.dtype();
  for (int d = 0; d < t.ndim(); ++d) v.stride[d] = t.stride(d);
  return v;
}

View broadcast_view(const Tensor& t, const Shape& shape, const char* op) {
  const int nd = shape.size(), tnd = t.ndim();
  SD_CHECK(tnd <= nd, std::string(op) + ": cannot broadcast " + t.shape().str() + " to " + shape.str());
  View v;
  v.ptr = t.device_data();
  v.dt = t.dtype();
  for (int d = 0; d < nd; ++d) {
    const int td = d - (nd - tnd);
    if (td < 0) continue;  // a leading axis t lacks: stride 0
    const int64_t size = t.size(td);
    SD_CHECK(size == shape[d] || size == 1,
             std::string(op) + ": cannot broadcast " + t.shape().str() + " to " + shape.str());
    v.stride[d] = size == 1 ? 0 : t.stride(td);
  }
  return v;
}

MemoryFormat layout_of(const Tensor& x) {
  if (x.ndim() == 4 && x.is_channels_last()) return MemoryFormat::ChannelsLast;
  return MemoryFormat::Contiguous;
}

Tensor dense(Context& ctx, const Tensor& x, DType dt, MemoryFormat fmt) {
  if (fmt == MemoryFormat::ChannelsLast && x.ndim() != 4) fmt = MemoryFormat::Contiguous;
  if (x.dtype() == dt && x.is_format(fmt)) return x;
  if (!is_floating(x.dtype()) || !is_floating(dt)) {
    // The kernels convert float types only; an integer tensor takes the host's conversion.
    return x.to(Device::cpu()).contiguous(fmt).to(dt).to(x.device());
  }
  Tensor y = Tensor::empty(x.shape(), dt, fmt, x.device());
  copy_strided(ctx, extent_of(x.shape()), view_of(x), view_of(y));
  return y;
}

Tensor dense_keep_layout(Context& ctx, const Tensor& x, DType dt) {
  const MemoryFormat fmt = x.is_contiguous() ? MemoryFormat::Contiguous
                           : (x.ndim() == 4 && x.is_channels_last()) ? MemoryFormat::ChannelsLast
                                                                      : MemoryFormat::Contiguous;
  return dense(ctx, x, dt, fmt);
}

}  // namespace sd::cuda
