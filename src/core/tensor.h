#pragma once
// The tensor: a typed, shaped, strided view of a reference-counted buffer. Shapes are
// logical (NCHW for images); the strides say how the bytes lie, so a channels-last
// (NHWC) activation is a [N,C,H,W] tensor with strides [HWC,1,WC,C], as in PyTorch.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"

namespace sd {

enum class MemoryFormat : uint8_t { Contiguous, ChannelsLast };

// Owns a buffer from its device's pool (core/device.h), or keeps external host memory (an
// mmapped file) alive.
struct Storage {
  void* ptr = nullptr;
  size_t capacity = 0;
  std::shared_ptr<const void> owner;  // set for external memory; pool memory otherwise
  Device device;
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
};

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype,
                      MemoryFormat fmt = MemoryFormat::Contiguous, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype,
                      MemoryFormat fmt = MemoryFormat::Contiguous, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, DType dtype = DType::F32);
  // Copies n = shape.product() elements of `dtype` from `data`.
  static Tensor copy_of(const void* data, const Shape& shape, DType dtype);
  static Tensor from_floats(const std::vector<float>& v, const Shape& shape);
  // Zero-copy view of external contiguous memory kept alive by `owner`.
  static Tensor wrap(const void* data, const Shape& shape, DType dtype,
                     std::shared_ptr<const void> owner);

  bool defined() const { return storage_ != nullptr; }
  Device device() const { return storage_ ? storage_->device : Device::cpu(); }
  bool on_host() const { return !storage_ || storage_->device.is_cpu(); }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int ndim() const { return shape_.size(); }
  int64_t size(int d) const { return shape_[norm_dim(d)]; }
  int64_t stride(int d) const { return strides_[norm_dim(d)]; }
  int64_t numel() const { return shape_.product(); }
  size_t element_size() const { return dtype_size(dtype_); }
  size_t nbytes() const { return size_t(numel()) * element_size(); }

  bool is_contiguous() const;
  // 4-D tensor whose bytes lie as N,H,W,C.
  bool is_channels_last() const;
  bool is_format(MemoryFormat fmt) const {
    return fmt == MemoryFormat::Contiguous ? is_contiguous() : is_channels_last();
  }

  // Host memory only: throws sd::Error for a tensor on another device (move it with
  // to(Device::cpu()) first, or compute on it through ops).
  void* raw_data() {
    if (!on_host()) throw_not_host();
    return device_data();
  }
  const void* raw_data() const {
    if (!on_host()) throw_not_host();
    return device_data();
  }
  // The first element's address on whatever device holds it: for backends only.
  void* device_data() { return static_cast<char*>(storage_->ptr) + offset_; }
  const void* device_data() const { return static_cast<const char*>(storage_->ptr) + offset_; }
  template <class T>
  T* data() {
    check_dtype(dtype_of<T>::value);
    return static_cast<T*>(raw_data());
  }
  template <class T>
  const T* data() const {
    check_dtype(dtype_of<T>::value);
    return static_cast<const T*>(raw_data());
  }

  // Views (share the buffer).
  Tensor reshape(const Shape& shape) const;  // needs a contiguous tensor; one -1 allowed
  Tensor narrow(int dim, int64_t start, int64_t length) const;
  Tensor select(int dim, int64_t index) const;
  Tensor unsqueeze(int dim) const;
  Tensor squeeze(int dim) const;
  Tensor permute(std::initializer_list<int> order) const;

  // Copies (return *this when nothing needs to change).
  Tensor contiguous(MemoryFormat fmt = MemoryFormat::Contiguous) const;
  Tensor to(DType dtype) const;  // host tensors only (ops::to_dtype works on any device)
  // The same values on `device`, with the same strides when the tensor is dense
  // (contiguous or channels-last); a host view that is not dense is made contiguous
  // first, a device one is refused (ops::to_layout makes it dense). Returns *this when it
  // is already there.
  Tensor to(Device device) const;
  Tensor clone(MemoryFormat fmt = MemoryFormat::Contiguous) const;
  // Element-wise copy from `src` of the same shape, converting dtype and layout.
  void copy_from(const Tensor& src);
  void fill(float value);

  std::vector<float> to_floats() const;
  float item() const;
  bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }
  // Whether this tensor alone refers to its memory, and that memory is the pool's (not a
  // wrapped file mapping): an op may then overwrite it in place.
  bool is_sole_owner() const { return storage_ && storage_.use_count() == 1 && !storage_->owner; }
  std::string desc() const;  // "f32[2,4,32,32]", "f16[2,4,32,32]@cuda:0"

 private:
  int norm_dim(int d) const;
  void check_dtype(DType want) const;
  [[noreturn]] void throw_not_host() const;

  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // bytes
  Shape shape_;
  Strides strides_;
  DType dtype_ = DType::F32;
};

Strides contiguous_strides(const Shape& shape);
Strides channels_last_strides(const Shape& shape);

}  // namespace sd
