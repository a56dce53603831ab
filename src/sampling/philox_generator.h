#pragma once
// torch.randn on an NVIDIA GPU after torch.manual_seed(seed), as AUTOMATIC1111 ("GPU"/"NV"
// seeds) and ComfyUI's GPU noise reproduce it on any device, so their seeds give their images.
//
// Philox4x32-10 keyed by the 64-bit seed (low word first). Element i of a call uses the
// counter (offset, 0, i, 0), offset counting the generator's earlier calls; words 0 and 1 of
// the output give one normal by Box-Muller in double, rounded to float. Computed on the host,
// so the noise does not depend on the backend that consumes it.
#include <cstdint>

#include "sampling/noise_generator.h"

namespace sd::sampling {

class PhiloxGenerator : public NoiseGenerator {
 public:
  explicit PhiloxGenerator(uint64_t seed) : seed_(seed) {}

  Tensor randn(const Shape& shape) override;
  std::string name() const override { return "philox"; }

 private:
  uint64_t seed_;
  uint32_t offset_ = 0;
};

}  // namespace sd::sampling
