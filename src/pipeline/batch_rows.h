#pragma once
// The rows of a batch: per-image tensors [1, ...] stacked into one network call and split
// again afterwards, and the one prompt's conditioning repeated for every image.
#include <vector>

#include "core/tensor.h"

namespace sd::pipeline {

// [1, ...] tensors of one shape -> [n, ...] (one row: that tensor itself).
Tensor stack_rows(const std::vector<Tensor>& rows);

// Row `index` of [n, ...] as a contiguous [1, ...] tensor of its own.
Tensor row_of(const Tensor& batch, int64_t index);

// Each row repeated `times` times in place: rows (a, b) -> (a x times, b x times), so a CFG
// pair (uncond, cond) becomes every image's uncond row, then every image's cond row.
Tensor repeat_each_row(const Tensor& x, int times);

}  // namespace sd::pipeline
