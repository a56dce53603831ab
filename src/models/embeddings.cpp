#include "models/embeddings.h"

#include <cmath>

#include "core/error.h"
#include "models/layers.h"

namespace sd::models {

Tensor timestep_embedding(const std::vector<float>& values, int dim, bool flip_sin_to_cos, float shift) {
  SD_CHECK(dim >= 2, "timestep embedding dim " + std::to_string(dim));
  const int half = dim / 2;
  // torch: exponent = -ln(max_period) * arange(half, float32) / (half - shift); all float32.
  const float neg_log_period = float(-std::log(10000.0));
  const float denom = float(half) - shift;
  std::vector<float> freq(half);
  for (int k = 0; k < half; ++k) freq[k] = std::exp(neg_log_period * float(k) / denom);

  Tensor out = Tensor::zeros(Shape{int64_t(values.size()), dim}, DType::F32);
  float* o = out.data<float>();
  for (size_t i = 0; i < values.size(); ++i) {
    float* row = o + i * dim;
    float* first = row;          // sin, or cos when flipped
    float* second = row + half;  // cos, or sin when flipped
    if (flip_sin_to_cos) std::swap(first, second);
    for (int k = 0; k < half; ++k) {
      const float arg = values[i] * freq[k];
      first[k] = std::sin(arg);
      second[k] = std::cos(arg);
    }
  }
  return out;
}

TimestepEmbedding::TimestepEmbedding(const WeightSource& w, const std::string& prefix, int in_channels,
                                     int time_embed_dim, DType dtype)
    : linear_1_(load_linear(w, join(prefix, "linear_1"), in_channels, time_embed_dim, true, dtype)),
      linear_2_(load_linear(w, join(prefix, "linear_2"), time_embed_dim, time_embed_dim, true, dtype)) {}

Tensor TimestepEmbedding::forward(const Tensor& x) const {
  return linear_2_.forward(linear_1_.forward(x, nullptr, ops::Activation::SiLU));
}

void TimestepEmbedding::register_modules(ModuleRegistry& r, const std::string& prefix) {
  r.add(join(prefix, "linear_1"), linear_1_);
  r.add(join(prefix, "linear_2"), linear_2_);
}

}  // namespace sd::models
