#include "backend/cuda/attention_softmax.h"
#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/check.h"
#include "backend/cuda/elem.cuh"

namespace sd::cuda {

namespace {

constexpr float kLog2e = 1.4426950408889634f;

// One block per row: the row's max, the sum of exp(s - max), then the probabilities. The
// row is read three times; it was written just before and mostly sits in L2.
template <class T>
__global__ void __launch_bounds__(256) softmax_scores_kernel(const float* s, T* p, int64_t keys, int64_t q_rows,
                                                             int64_t q0, bool causal) {
  const int64_t r = blockIdx.x;
  const float* row = s + r * keys;
  T* out = p + r * keys;
  const int64_t visible = causal ? min(keys, q0 + r % q_rows + 1) : keys;
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) mx = fmaxf(mx, row[j]);
  mx = block_reduce(mx, true);
  float sum = 0.f;
  for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) sum += exp2f((row[j] - mx) * kLog2e);
  const float inv = 1.f / block_reduce(sum, false);
  for (int64_t j = threadIdx.x; j < keys; j += blockDim.x)
    out[j] = from_f32<T>(j < visible ? exp2f((row[j] - mx) * kLog2e) * inv : 0.f);
}

}  // namespace

void softmax_scores(Context& ctx, const float* s, void* p, int64_t rows, int64_t keys, int64_t q_rows, int64_t q0,
                    bool causal, DType dt) {
  if (rows <= 0 || keys <= 0) return;
  SD_CHECK(rows <= 0x7fffffff && q_rows > 0, "attention softmax: bad rows");
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    softmax_scores_kernel<T><<<unsigned(rows), 256, 0, ctx.stream()>>>(s, static_cast<T*>(p), keys, q_rows, q0,
                                                                         causal);
  });
  SD_CUDA_CHECK_LAUNCH();
}

}  // namespace sd::cuda
