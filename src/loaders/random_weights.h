#pragma once
// Seeded random weights for building full-size models without files (the benchmark):
// every tensor the model asks for is generated on the spot, in the dtype asked for, with
// roughly the scale of a trained network so activations stay in a realistic range:
// - matrices and conv kernels: uniform with std 1/sqrt(fan_in) (fan_in = numel/rows),
// - norm weights (1-D "*.weight"): 1 +- a little,
// - biases: small.
// A tensor's values depend only on the seed and its name, not on the order of requests.
#include <cstdint>
#include <string>

#include "models/weight_source.h"

namespace sd::models {

class RandomWeights : public WeightSource {
 public:
  explicit RandomWeights(uint64_t seed) : seed_(seed) {}

  bool has(const std::string&) const override { return true; }
  std::string describe() const override { return "random weights (seed " + std::to_string(seed_) + ")"; }

 protected:
  Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const override;

 private:
  uint64_t seed_;
};

}  // namespace sd::models
