#pragma once
// Fixed-capacity shape and stride vectors: tensors are created on every op, so their
// metadata must not touch the heap.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/error.h"

namespace sd {

constexpr int kMaxDims = 6;

class Dims {
 public:
  Dims() = default;
  Dims(std::initializer_list<int64_t> v) {
    SD_CHECK(v.size() <= kMaxDims, "too many dimensions");
    for (int64_t x : v) d_[n_++] = x;
  }
  template <class It>
  Dims(It first, It last) {
    for (; first != last; ++first) {
      SD_CHECK(n_ < kMaxDims, "too many dimensions");
      d_[n_++] = int64_t(*first);
    }
  }
  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  const int64_t* begin() const { return d_.data(); }
  const int64_t* end() const { return d_.data() + n_; }
  void push_back(int64_t x) {
    SD_CHECK(n_ < kMaxDims, "too many dimensions");
    d_[n_++] = x;
  }
  int64_t back() const { return d_[n_ - 1]; }
  int64_t product() const {
    int64_t p = 1;
    for (int i = 0; i < n_; ++i) p *= d_[i];
    return p;
  }
  bool operator==(const Dims& o) const {
    if (n_ != o.n_) return false;
    for (int i = 0; i < n_; ++i)
      if (d_[i] != o.d_[i]) return false;
    return true;
  }
  bool operator!=(const Dims& o) const { return !(*this == o); }
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < n_; ++i) {
      if (i) s += ',';
      s += std::to_string(d_[i]);
    }
    s += ']';
    return s;
  }

 private:
  std::array<int64_t, kMaxDims> d_{};
  int n_ = 0;
};

using Shape = Dims;
using Strides = Dims;

}  // namespace sd
