#pragma once
// A layer's weight that is read from its source a band of rows at a time, rows being its
// first dimension ([O, I] or [O, I, kh, kw]). A backend that keeps weights in a layout of
// its own lays each band out as it arrives, so the plain weight is never made whole: the
// load writes each weight once instead of twice.
#include <functional>
#include <memory>

#include "core/tensor.h"
#include "core/weight_arena.h"

namespace sd {

struct WeightRows {
  Shape shape;
  DType dtype = DType::F32;  // what read() writes
  // Writes rows [row, row + count) of the weight, contiguous, to dst; throws sd::Error
  // when the source fails. Valid only while the layer is being built. May be called from
  // two threads at once (for different rows).
  std::function<void(int64_t row, int64_t count, void* dst)> read;
  // Where a host backend keeps the weight laid out its way: shared by the weights of one
  // model component (weight_arena.h). Null: memory of its own.
  std::shared_ptr<WeightArena> arena;

  int64_t rows() const { return shape[0]; }
  int64_t row_elements() const { return rows() == 0 ? 0 : shape.product() / rows(); }
  // The whole weight as a plain host tensor, for a backend without a layout of its own.
  Tensor read_all() const;
};

}  // namespace sd
