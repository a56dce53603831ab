#pragma once
// Where the sampler's random numbers come from. The pipeline draws the initial latent and
// the schedulers draw their per-step noise through one generator object, so a seed fixes
// the whole image; a subclass decides which random stream that seed means.
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace sd::sampling {

class NoiseGenerator {
 public:
  virtual ~NoiseGenerator() = default;
  // A contiguous f32 tensor of standard-normal draws. Consecutive calls continue the stream.
  virtual Tensor randn(const Shape& shape) = 0;
  // Short name for logs and /info ("torch_cpu").
  virtual std::string name() const = 0;
};

}  // namespace sd::sampling
