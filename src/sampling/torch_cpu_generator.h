#pragma once
// torch.randn on a CPU torch.Generator, reproduced bit for bit (torch 1.13+ AVX2 kernel):
// the same seed gives the same noise, so a seed means the same image as in diffusers.
//
// The stream is MT19937 seeded with the low 32 bits of the seed (torch truncates it the same
// way). Tensors of 16 or more elements take torch's vectorised path: float uniforms for every
// element, then Box-Muller per block of 16 with the Cephes log/sincos of torch's AVX2 kernel
// (cephes_avx2.h), the last partial block redrawn. Smaller tensors take the per-element double path, whose
// second Box-Muller value is cached and returned by the next small draw, across calls.
#include <cstdint>
#include <optional>
#include <random>

#include "sampling/noise_generator.h"

namespace sd::sampling {

class TorchCpuGenerator : public NoiseGenerator {
 public:
  explicit TorchCpuGenerator(uint64_t seed);

  // torch.Generator.manual_seed: restarts the stream and forgets the cached normal.
  void manual_seed(uint64_t seed);
  Tensor randn(const Shape& shape) override;
  std::string name() const override { return "torch_cpu"; }

 private:
  void fill_vectorised(float* data, int64_t n);
  float next_double_normal();

  std::mt19937 engine_;
  std::optional<double> cached_normal_;
};

}  // namespace sd::sampling
