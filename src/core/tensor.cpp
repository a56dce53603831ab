#include "core/tensor.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/buffer_pool.h"
#include "core/convert_avx512.h"
#include "core/half.h"

namespace sd {

Storage::~Storage() {
  if (owner || !ptr) return;
  if (device.is_cpu()) BufferPool::instance().release(ptr, capacity);
  else device_memory(device).release(ptr, capacity);
}

Strides contiguous_strides(const Shape& shape) {
  Strides s = shape;
  int64_t acc = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

Strides channels_last_strides(const Shape& shape) {
  SD_CHECK(shape.size() == 4, "channels-last needs a 4-D shape, got " + shape.str());
  const int64_t C = shape[1], H = shape[2], W = shape[3];
  return Strides{H * W * C, 1, W * C, C};
}

namespace {
std::shared_ptr<Storage> new_storage(size_t bytes, Device device) {
  auto s = std::make_shared<Storage>();
  if (device.is_cpu()) s->ptr = BufferPool::instance().acquire(bytes, &s->capacity);
  else s->ptr = device_memory(device).acquire(bytes, &s->capacity);
  s->device = device;
  return s;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, MemoryFormat fmt, Device device) {
  for (int64_t d : shape) SD_CHECK(d >= 0, "negative dimension in " + shape.str());
  Tensor t;
  t.shape_ = shape;
  t.strides_ = fmt == MemoryFormat::ChannelsLast ? channels_last_strides(shape)
                                                 : contiguous_strides(shape);
  t.dtype_ = dtype;
  t.storage_ = new_storage(t.nbytes(), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, MemoryFormat fmt, Device device) {
  Tensor t = empty(shape, dtype, fmt, device);
  if (device.is_cpu()) std::memset(t.raw_data(), 0, t.nbytes());
  else if (t.nbytes()) device_memory(device).set_zero(t.device_data(), t.nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::copy_of(const void* data, const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes()) std::memcpy(t.raw_data(), data, t.nbytes());
  return t;
}

Tensor Tensor::from_floats(const std::vector<float>& v, const Shape& shape) {
  SD_CHECK(int64_t(v.size()) == shape.product(),
           "vector of " + std::to_string(v.size()) + " values for shape " + shape.str());
  return copy_of(v.data(), shape, DType::F32);
}

Tensor Tensor::wrap(const void* data, const Shape& shape, DType dtype,
                    std::shared_ptr<const void> owner) {
  SD_CHECK(owner != nullptr, "wrap needs an owner");
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>();
  t.storage_->ptr = const_cast<void*>(data);
  t.storage_->capacity = t.nbytes();
  t.storage_->owner = std::move(owner);
  return t;
}

int Tensor::norm_dim(int d) const {
  int n = shape_.size();
  if (d < 0) d += n;
  SD_CHECK(d >= 0 && d < n, "dimension " + std::to_string(d) + " out of range for " + desc());
  return d;
}

void Tensor::throw_not_host() const {
  throw Error("tensor " + desc() + " is in " + device().str() +
              " memory, not the host's: move it with to(Device::cpu()) or use ops");
}

void Tensor::check_dtype(DType want) const {
  SD_CHECK(dtype_ == want, "tensor is " + std::string(dtype_name(dtype_)) + ", accessed as " +
                               std::string(dtype_name(want)));
}

bool Tensor::is_contiguous() const {
  int64_t acc = 1;
  for (int i = shape_.size() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != acc) return false;
    acc *= shape_[i];
  }
  return true;
}

bool Tensor::is_channels_last() const {
  if (shape_.size() != 4) return false;
  const Strides want = channels_last_strides(shape_);
  for (int i = 0; i < 4; ++i)
    if (shape_[i] != 1 && strides_[i] != want[i]) return false;
  return true;
}

Tensor Tensor::reshape(const Shape& shape) const {
  SD_CHECK(is_contiguous(), "reshape of a non-contiguous tensor " + desc());
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      SD_CHECK(infer < 0, "more than one -1 in reshape " + shape.str());
      infer = i;
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    SD_CHECK(known > 0 && numel() % known == 0, "cannot reshape " + desc() + " to " + shape.str());
    s[infer] = numel() / known;
  }
  SD_CHECK(s.product() == numel(), "cannot reshape " + desc() + " to " + shape.str());
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::narrow(int dim, int64_t start, int64_t length) const {
  dim = norm_dim(dim);
  SD_CHECK(start >= 0 && length >= 0 && start + length <= shape_[dim],
           "narrow(" + std::to_string(dim) + ", " + std::to_string(start) + ", " +
               std::to_string(length) + ") out of range for " + desc());
  Tensor t = *this;
  t.offset_ += size_t(start * strides_[dim]) * element_size();
  t.shape_[dim] = length;
  return t;
}

Tensor Tensor::select(int dim, int64_t index) const {
  dim = norm_dim(dim);
  Tensor t = narrow(dim, index, 1);
  Shape s;
  Strides st;
  for (int i = 0; i < shape_.size(); ++i) {
    if (i == dim) continue;
    s.push_back(t.shape_[i]);
    st.push_back(t.strides_[i]);
  }
  t.shape_ = s;
  t.strides_ = st;
  return t;
}

Tensor Tensor::unsqueeze(int dim) const {
  int n = shape_.size();
  if (dim < 0) dim += n + 1;
  SD_CHECK(dim >= 0 && dim <= n, "unsqueeze dimension out of range for " + desc());
  Shape s;
  Strides st;
  for (int i = 0; i <= n; ++i) {
    if (i == dim) {
      s.push_back(1);
      st.push_back(i < n ? strides_[i] * shape_[i] : 1);
    }
    if (i < n) {
      s.push_back(shape_[i]);
      st.push_back(strides_[i]);
    }
  }
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = st;
  return t;
}

Tensor Tensor::squeeze(int dim) const {
  dim = norm_dim(dim);
  SD_CHECK(shape_[dim] == 1, "squeeze of a dimension of size " + std::to_string(shape_[dim]));
  return select(dim, 0);
}

Tensor Tensor::permute(std::initializer_list<int> order) const {
  SD_CHECK(int(order.size()) == ndim(), "permute needs " + std::to_string(ndim()) + " axes");
  Tensor t = *this;
  int i = 0;
  uint32_t seen = 0;
  for (int d : order) {
    d = norm_dim(d);
    SD_CHECK(!(seen & (1u << d)), "permute repeats an axis");
    seen |= 1u << d;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
    ++i;
  }
  return t;
}

Tensor Tensor::contiguous(MemoryFormat fmt) const {
  if (is_format(fmt)) return *this;
  return clone(fmt);
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor t = empty(shape_, dtype, is_channels_last() && !is_contiguous()
                                      ? MemoryFormat::ChannelsLast
                                      : MemoryFormat::Contiguous);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (!defined() || device == this->device()) return *this;
  const bool dense = is_contiguous() || is_channels_last();
  if (!dense) {
    SD_CHECK(on_host(), "to(" + device.str() + ") of a strided view " + desc() +
                            ": make it dense with ops::to_layout first");
    return contiguous().to(device);
  }
  // Between two GPUs: through the host, which this rare path can afford.
  if (!on_host() && !device.is_cpu()) return to(Device::cpu()).to(device);
  Tensor t = empty(shape_, dtype_,
                   is_contiguous() ? MemoryFormat::Contiguous : MemoryFormat::ChannelsLast, device);
  if (nbytes() == 0) return t;
  if (on_host()) device_memory(device).copy_from_host(t.device_data(), device_data(), nbytes());
  else device_memory(this->device()).copy_to_host(t.device_data(), device_data(), nbytes());
  return t;
}

Tensor Tensor::clone(MemoryFormat fmt) const {
  Tensor t = empty(shape_, dtype_, fmt);
  t.copy_from(*this);
  return t;
}

namespace {

double load_as_double(const char* p, DType t) {
  switch (t) {
    case DType::F32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::F16: { uint16_t v; std::memcpy(&v, p, 2); return f16_to_f32(v); }
    case DType::BF16: { uint16_t v; std::memcpy(&v, p, 2); return bf16_to_f32(v); }
    case DType::U8: return double(uint8_t(*p));
    case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case DType::I64: { int64_t v; std::memcpy(&v, p, 8); return double(v); }
  }
  return 0;
}

void store_from_double(char* p, DType t, double x) {
  switch (t) {
    case DType::F32: { float v = float(x); std::memcpy(p, &v, 4); return; }
    case DType::F16: { uint16_t v = f32_to_f16(float(x)); std::memcpy(p, &v, 2); return; }
    case DType::BF16: { uint16_t v = f32_to_bf16(float(x)); std::memcpy(p, &v, 2); return; }
    case DType::U8: *p = char(uint8_t(x)); return;
    case DType::I32: { int32_t v = int32_t(x); std::memcpy(p, &v, 4); return; }
    case DType::I64: { int64_t v = int64_t(x); std::memcpy(p, &v, 8); return; }
  }
}

}  // namespace

void convert_elements(const void* src, DType s, void* dst, DType d, size_t n) {
  if (s == d) {
    if (src != dst) std::memmove(dst, src, n * dtype_size(s));
    return;
  }
  if (s == DType::F32 && d == DType::BF16) {
    auto* in = static_cast<const float*>(src);
    auto* out = static_cast<uint16_t*>(dst);
    for (size_t i = detail::f32_to_bf16_avx512(in, out, n); i < n; ++i) out[i] = f32_to_bf16(in[i]);
    return;
  }
  if (s == DType::BF16 && d == DType::F32) {
    auto* in = static_cast<const uint16_t*>(src);
    auto* out = static_cast<float*>(dst);
    for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(in[i]);
    return;
  }
  if (s == DType::F16 && d == DType::F32) {
    auto* in = static_cast<const uint16_t*>(src);
    auto* out = static_cast<float*>(dst);
    for (size_t i = 0; i < n; ++i) out[i] = f16_to_f32(in[i]);
    return;
  }
  if (s == DType::F16 && d == DType::BF16) {  // exact through float32, then rounded once
    auto* in = static_cast<const uint16_t*>(src);
    auto* out = static_cast<uint16_t*>(dst);
    for (size_t i = detail::f16_to_bf16_avx512(in, out, n); i < n; ++i) out[i] = f32_to_bf16(f16_to_f32(in[i]));
    return;
  }
  if (s == DType::F32 && d == DType::F16) {
    auto* in = static_cast<const float*>(src);
    auto* out = static_cast<uint16_t*>(dst);
    for (size_t i = 0; i < n; ++i) out[i] = f32_to_f16(in[i]);
    return;
  }
  const size_t ss = dtype_size(s), ds = dtype_size(d);
  auto* in = static_cast<const char*>(src);
  auto* out = static_cast<char*>(dst);
  for (size_t i = 0; i < n; ++i) store_from_double(out + i * ds, d, load_as_double(in + i * ss, s));
}

void Tensor::copy_from(const Tensor& src) {
  SD_CHECK(src.shape_ == shape_, "copy from " + src.desc() + " into " + desc());
  if (numel() == 0) return;
  if (is_contiguous() && src.is_contiguous()) {
    convert_elements(src.raw_data(), src.dtype_, raw_data(), dtype_, size_t(numel()));
    return;
  }
  // Walk the destination in its memory order (largest stride first) so writes are
  // sequential; the innermost axis is the one with the smallest destination stride.
  const int n = ndim();
  int order[kMaxDims];
  std::iota(order, order + n, 0);
  std::stable_sort(order, order + n, [&](int a, int b) { return strides_[a] > strides_[b]; });
  const int inner = order[n - 1];
  const int64_t len = shape_[inner];
  const int64_t ds = strides_[inner], ss = src.strides_[inner];
  const size_t de = element_size(), se = src.element_size();
  int64_t idx[kMaxDims] = {0};
  char* dbase = static_cast<char*>(raw_data());
  const char* sbase = static_cast<const char*>(src.raw_data());
  const int64_t outer = numel() / len;
  for (int64_t o = 0; o < outer; ++o) {
    int64_t doff = 0, soff = 0;
    for (int k = 0; k < n - 1; ++k) {
      int d = order[k];
      doff += idx[d] * strides_[d];
      soff += idx[d] * src.strides_[d];
    }
    char* dp = dbase + doff * int64_t(de);
    const char* sp = sbase + soff * int64_t(se);
    if (ds == 1 && ss == 1) {
      convert_elements(sp, src.dtype_, dp, dtype_, size_t(len));
    } else if (src.dtype_ == dtype_) {
      for (int64_t i = 0; i < len; ++i) std::memcpy(dp + i * ds * de, sp + i * ss * se, de);
    } else {
      for (int64_t i = 0; i < len; ++i)
        convert_elements(sp + i * ss * se, src.dtype_, dp + i * ds * de, dtype_, 1);
    }
    for (int k = n - 2; k >= 0; --k) {  // odometer over the outer axes
      int d = order[k];
      if (++idx[d] < shape_[d]) break;
      idx[d] = 0;
    }
  }
}

void Tensor::fill(float value) {
  const int64_t n = numel();
  if (n == 0) return;
  Tensor one = Tensor::empty(Shape{1}, dtype_);
  store_from_double(static_cast<char*>(one.raw_data()), dtype_, value);
  if (is_contiguous() || is_channels_last()) {
    const size_t es = element_size();
    char* p = static_cast<char*>(raw_data());
    for (int64_t i = 0; i < n; ++i) std::memcpy(p + i * es, one.raw_data(), es);
    return;
  }
  Tensor src = one.reshape(Shape{1});
  Tensor bc = src;
  bc.shape_ = shape_;
  bc.strides_ = Strides(shape_.begin(), shape_.end());
  for (int i = 0; i < bc.shape_.size(); ++i) bc.strides_[i] = 0;
  copy_from(bc);
}

std::vector<float> Tensor::to_floats() const {
  if (!on_host()) return to(Device::cpu()).to_floats();
  std::vector<float> v(static_cast<size_t>(numel()));
  if (v.empty()) return v;
  Tensor dst = Tensor::empty(shape_, DType::F32);
  dst.copy_from(*this);
  std::memcpy(v.data(), dst.raw_data(), v.size() * 4);
  return v;
}

float Tensor::item() const {
  SD_CHECK(numel() == 1, "item() of " + desc());
  return to_floats()[0];
}

std::string Tensor::desc() const {
  std::string d = std::string(dtype_name(dtype_)) + shape_.str();
  return on_host() ? d : d + "@" + device().str();
}

}  // namespace sd
