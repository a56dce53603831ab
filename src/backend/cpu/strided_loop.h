#pragma once
// Walks tensors of one logical shape in the memory order of the first (the output), as
// runs of elements along the innermost axis, merging axes that lie contiguously in every
// operand. Element-wise ops, conversions and broadcasts are all one loop over runs.
#include <omp.h>

#include <cstdint>

#include "backend/cpu/runtime.h"
#include "core/tensor.h"

namespace sd::cpu {

constexpr int kMaxLoopOperands = 4;

struct LoopOperand {
  const void* base = nullptr;
  Strides strides;  // element strides over the loop shape; 0 on broadcast axes
  DType dtype = DType::F32;
};

LoopOperand operand_of(const Tensor& t);
// `t` broadcast to `shape` the numpy way (trailing axes aligned, size-1 axes repeated).
LoopOperand broadcast_operand(const Tensor& t, const Shape& shape);

// A stretch of n elements: operand k starts at ptr[k] and steps step[k] elements.
struct Run {
  char* ptr[kMaxLoopOperands];
  int64_t step[kMaxLoopOperands];
  int64_t n;
};

class LoopPlan {
 public:
  LoopPlan(const Shape& shape, const LoopOperand* ops, int nops);

  // Calls fn(const Run&) over the whole shape, in parallel when there is enough work.
  template <class Fn>
  void run(Fn&& fn) const {
    if (items_ == 0) return;
    const bool par = total_ >= (1 << 15) && items_ > 1;
    sync_threads();
#pragma omp parallel if (par)
    {
      const int nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t lo = items_ * t / nt, hi = items_ * (t + 1) / nt;
      if (lo < hi) run_range(lo, hi, fn);
    }
  }

 private:
  template <class Fn>
  void run_range(int64_t lo, int64_t hi, Fn& fn) const {
    int64_t idx[kMaxDims];
    int64_t o = lo / pieces_;
    int64_t piece = lo % pieces_;
    for (int d = nouter_ - 1; d >= 0; --d) {
      idx[d] = o % outer_size_[d];
      o /= outer_size_[d];
    }
    for (int64_t it = lo; it < hi; ++it) {
      Run r;
      const int64_t start = piece * piece_len_;
      r.n = inner_n_ - start < piece_len_ ? inner_n_ - start : piece_len_;
      for (int k = 0; k < nops_; ++k) {
        int64_t off = start * inner_step_[k];
        for (int d = 0; d < nouter_; ++d) off += idx[d] * outer_stride_[k][d];
        r.ptr[k] = base_[k] + off * int64_t(esize_[k]);
        r.step[k] = inner_step_[k];
      }
      fn(r);
      if (++piece == pieces_) {
        piece = 0;
        for (int d = nouter_ - 1; d >= 0; --d) {
          if (++idx[d] < outer_size_[d]) break;
          idx[d] = 0;
        }
      }
    }
  }

  int nops_ = 0;
  int nouter_ = 0;
  int64_t outer_size_[kMaxDims] = {};
  int64_t outer_stride_[kMaxLoopOperands][kMaxDims] = {};
  int64_t inner_n_ = 1;
  int64_t inner_step_[kMaxLoopOperands] = {};
  char* base_[kMaxLoopOperands] = {};
  size_t esize_[kMaxLoopOperands] = {};
  int64_t pieces_ = 1, piece_len_ = 1, items_ = 0, total_ = 0;
};

}  // namespace sd::cpu
