#pragma once
// diffusers models/embeddings.py: Timesteps (sinusoidal projection) and TimestepEmbedding.
#include <string>
#include <vector>

#include "models/module_registry.h"
#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

// get_timestep_embedding: for each value t, the frequencies f_k = exp(-ln(10000) k / (half - shift)),
// k < half = dim/2, give [sin(t f), cos(t f)], or [cos, sin] with flip_sin_to_cos; an odd dim
// gets a zero column. float32 [values.size(), dim], computed in float32 as torch does. It
// is a few hundred numbers per call, so it runs here rather than as an op.
Tensor timestep_embedding(const std::vector<float>& values, int dim, bool flip_sin_to_cos, float shift);

// linear_1 -> SiLU -> linear_2.
class TimestepEmbedding {
 public:
  TimestepEmbedding() = default;
  TimestepEmbedding(const WeightSource& w, const std::string& prefix, int in_channels, int time_embed_dim,
                    DType dtype);
  Tensor forward(const Tensor& x) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  ops::Linear linear_1_, linear_2_;
};

}  // namespace sd::models
