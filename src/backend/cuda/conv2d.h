#pragma once
// 2-D convolution on cuDNN's graph API: channels-last activations and filters, float32
// accumulation, and bias, activation and residual fused into the convolution's epilogue
// as one operation graph (cuDNN's runtime fusion). The execution plan is chosen once per
// input shape (the fastest, timed, of the heuristic's first engines that accept the
// graph) and reused; when no engine accepts the fused graph, the plain convolution runs
// with the epilogue as a kernel.
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "backend/cuda/act.h"
#include "backend/cuda/context.h"
#include "core/dtype.h"

namespace sd::cuda {

struct ConvGeometry {
  int stride = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// torch's filter layout [O, I, kh, kw] -> cuDNN's channels-last [O, kh, kw, I], on the device.
void ohwi_from_oihw(Context& ctx, const void* oihw, void* ohwi, int64_t out_channels, int64_t in_channels, int kh,
                    int kw, DType dt);

class Conv2d {
 public:
  // weight [out, kh, kw, in] (see ohwi_from_oihw) and bias [out] (or null): device memory
  // of `dt` (f32, f16 or bf16) that must outlive this object.
  Conv2d(const void* weight, const void* bias, int64_t out_channels, int64_t in_channels, int kh, int kw,
         ConvGeometry g, DType dt);
  ~Conv2d();
  Conv2d(const Conv2d&) = delete;
  Conv2d& operator=(const Conv2d&) = delete;

  int64_t out_height(int64_t h) const { return (h + g_.pad_top + g_.pad_bottom - kh_) / g_.stride + 1; }
  int64_t out_width(int64_t w) const { return (w + g_.pad_left + g_.pad_right - kw_) / g_.stride + 1; }

  // x [n, h, w, in] -> y [n, out_height(h), out_width(w), out] =
  // act(conv(x) + bias) + residual; residual shaped like y, or null, and may be y itself.
  void forward(Context& ctx, const void* x, int64_t n, int64_t h, int64_t w, void* y, const void* residual,
               Act act);

 private:
  struct Plan;
  struct Operands;
  // (n, h, w, act, residual, alignments of x, y, residual)
  using Key = std::tuple<int64_t, int64_t, int64_t, int, bool, int, int, int>;
  Plan& plan_for(Context& ctx, const Key& key, const Operands& operands);
  void execute(Context& ctx, const Plan& plan, const Operands& operands) const;
  float time_plan(Context& ctx, const Plan& plan, const Operands& operands) const;

  const void* weight_;
  const void* bias_;
  int64_t out_, in_;
  int kh_, kw_;
  ConvGeometry g_;
  DType dt_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace sd::cuda
