#pragma once
// Linear layers on cuBLASLt: y = act(x W^T + bias) + residual with float32 accumulation,
// bias and (tanh-)GELU/ReLU fused as cuBLASLt epilogues and the residual fused as its C
// operand where the order of operations allows; one plan per call shape (layouts and the
// fastest of the heuristic's first four algorithms, timed on the first call), reused.
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "backend/cuda/act.h"
#include "backend/cuda/context.h"
#include "core/dtype.h"

namespace sd::cuda {

class Linear {
 public:
  // weight [out, in] row-major (torch's Linear layout) and bias [out] (or null): device
  // memory of `dt` (f32, f16 or bf16) that must outlive this object.
  Linear(const void* weight, const void* bias, int64_t out_features, int64_t in_features, DType dt);
  ~Linear();
  Linear(const Linear&) = delete;
  Linear& operator=(const Linear&) = delete;

  // x [rows, in] (row stride x_row, elements) -> y [rows, out] (row stride y_row);
  // residual [rows, out] with row stride y_row, or null; it may be y itself.
  void forward(Context& ctx, const void* x, int64_t x_row, int64_t rows, void* y, int64_t y_row,
               const void* residual, Act act);

  int64_t out_features() const { return out_; }
  int64_t in_features() const { return in_; }
  DType dtype() const { return dt_; }

 private:
  struct Plan;
  // The pointers of one call: C (the residual, or y unread) and D = y.
  struct Operands {
    const void* x;
    const void* c;
    void* y;
    bool beta_one;  // C is added
  };
  // (rows, x row stride, y row stride, epilogue, residual in C, alignments of x, y, residual)
  using Key = std::tuple<int64_t, int64_t, int64_t, int, bool, int, int, int>;
  Plan& plan_for(Context& ctx, const Key& key, const Operands& operands);
  void execute(Context& ctx, const Plan& plan, const Operands& operands) const;
  float time_plan(Context& ctx, const Plan& plan, const Operands& operands) const;

  const void* weight_;
  const void* bias_;
  int64_t out_, in_;
  DType dt_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace sd::cuda
