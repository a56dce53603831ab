#pragma once
// A tensor seen as M rows of C contiguous elements, for ops over the last dimension.
#include <cstdint>

#include "core/tensor.h"

namespace sd::cpu {

struct Rows {
  Tensor t;  // x itself, or a contiguous copy when its rows are not evenly spaced
  int64_t m = 0, c = 0, row_stride = 0;
  const char* row(int64_t i) const {
    return static_cast<const char*>(t.raw_data()) + i * row_stride * int64_t(t.element_size());
  }
};

Rows as_rows(const Tensor& x);

}  // namespace sd::cpu
