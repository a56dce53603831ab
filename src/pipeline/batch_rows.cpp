#include "pipeline/batch_rows.h"

#include "ops/ops.h"

namespace sd::pipeline {

Tensor stack_rows(const std::vector<Tensor>& rows) { return rows.size() == 1 ? rows.front() : ops::concat(rows, 0); }

Tensor row_of(const Tensor& batch, int64_t index) { return batch.narrow(0, index, 1).contiguous(); }

Tensor repeat_each_row(const Tensor& x, int times) {
  if (times == 1) return x;
  std::vector<Tensor> rows;
  for (int64_t r = 0; r < x.size(0); ++r)
    for (int k = 0; k < times; ++k) rows.push_back(x.narrow(0, r, 1));
  return ops::concat(rows, 0);
}

}  // namespace sd::pipeline
