#include "backend/cpu/strided_loop.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

namespace sd::cpu {

LoopOperand operand_of(const Tensor& t) {
  return LoopOperand{t.raw_data(), t.strides(), t.dtype()};
}

LoopOperand broadcast_operand(const Tensor& t, const Shape& shape) {
  const int n = shape.size(), m = t.ndim();
  SD_CHECK(m <= n, "cannot broadcast " + t.desc() + " to " + shape.str());
  LoopOperand op{t.raw_data(), shape, t.dtype()};
  for (int i = 0; i < n; ++i) {
    const int j = i - (n - m);
    if (j < 0) {
      op.strides[i] = 0;
    } else if (t.size(j) == shape[i]) {
      op.strides[i] = t.stride(j);
    } else {
      SD_CHECK(t.size(j) == 1, "cannot broadcast " + t.desc() + " to " + shape.str());
      op.strides[i] = 0;
    }
  }
  return op;
}

LoopPlan::LoopPlan(const Shape& shape, const LoopOperand* ops, int nops) : nops_(nops) {
  SD_CHECK(nops >= 1 && nops <= kMaxLoopOperands, "bad operand count");
  total_ = shape.product();
  for (int k = 0; k < nops; ++k) {
    base_[k] = static_cast<char*>(const_cast<void*>(ops[k].base));
    esize_[k] = dtype_size(ops[k].dtype);
  }
  if (total_ == 0) return;

  // Axes of size > 1, ordered by the first operand's stride, largest first.
  int axes[kMaxDims];
  int na = 0;
  for (int i = 0; i < shape.size(); ++i)
    if (shape[i] > 1) axes[na++] = i;
  std::stable_sort(axes, axes + na, [&](int a, int b) {
    return std::abs(ops[0].strides[a]) > std::abs(ops[0].strides[b]);
  });

  // Merge neighbours that are contiguous in every operand.
  int64_t size[kMaxDims];
  int64_t stride[kMaxLoopOperands][kMaxDims];
  int nd = 0;
  for (int a = 0; a < na; ++a) {
    const int ax = axes[a];
    bool merge = nd > 0;
    for (int k = 0; k < nops && merge; ++k)
      merge = stride[k][nd - 1] == ops[k].strides[ax] * shape[ax];
    if (merge) {
      size[nd - 1] *= shape[ax];
      for (int k = 0; k < nops; ++k) stride[k][nd - 1] = ops[k].strides[ax];
    } else {
      size[nd] = shape[ax];
      for (int k = 0; k < nops; ++k) stride[k][nd] = ops[k].strides[ax];
      ++nd;
    }
  }
  if (nd == 0) {  // a single element
    size[0] = 1;
    for (int k = 0; k < nops; ++k) stride[k][0] = 1;
    nd = 1;
  }

  inner_n_ = size[nd - 1];
  for (int k = 0; k < nops; ++k) inner_step_[k] = stride[k][nd - 1];
  nouter_ = nd - 1;
  int64_t outer = 1;
  for (int d = 0; d < nouter_; ++d) {
    outer_size_[d] = size[d];
    outer *= size[d];
    for (int k = 0; k < nops; ++k) outer_stride_[k][d] = stride[k][d];
  }
  // Split long runs so a loop with few outer steps still spreads over the threads.
  constexpr int64_t kPiece = 8192;
  piece_len_ = inner_n_;
  if (outer < 64 && inner_n_ > kPiece) piece_len_ = kPiece;
  pieces_ = (inner_n_ + piece_len_ - 1) / piece_len_;
  items_ = outer * pieces_;
}

}  // namespace sd::cpu
