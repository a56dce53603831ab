#pragma once
// A float reduction (max or sum) over one thread block, every thread receiving the result.
// Blocks of at most 1024 threads; every thread of the block must call it.
#include <cmath>

namespace sd::cuda {

__device__ __forceinline__ float block_reduce(float v, bool is_max) {
  __shared__ float warps[32];
  __shared__ float total;
  for (int off = 16; off > 0; off >>= 1) {
    const float o = __shfl_xor_sync(0xffffffffu, v, off);
    v = is_max ? fmaxf(v, o) : v + o;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // an earlier call's readers are done with `total`
  if (lane == 0) warps[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int nwarps = (blockDim.x + 31) >> 5;
    float w = lane < nwarps ? warps[lane] : (is_max ? -INFINITY : 0.f);
    for (int off = 16; off > 0; off >>= 1) {
      const float o = __shfl_xor_sync(0xffffffffu, w, off);
      w = is_max ? fmaxf(w, o) : w + o;
    }
    if (lane == 0) total = w;
  }
  __syncthreads();
  return total;
}

}  // namespace sd::cuda
