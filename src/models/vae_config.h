#pragma once
// The diffusers AutoencoderKL config (vae/config.json).
#include <optional>
#include <string>
#include <vector>

#include "io/json_file.h"

namespace sd::models {

struct VaeConfig {
  int in_channels = 3;
  int out_channels = 3;
  int latent_channels = 4;
  std::vector<int> block_out_channels{64};
  int layers_per_block = 1;  // encoder resnets per level; the decoder has one more
  int norm_num_groups = 32;
  int sample_size = 32;      // default image size
  // Pipeline-space latents are (z - shift_factor) * scaling_factor.
  float scaling_factor = 0.18215f;
  std::optional<float> shift_factor;
  std::vector<float> latents_mean, latents_std;  // per-channel statistics (empty when absent)
  bool force_upcast = true;  // matters for fp16 only
  bool mid_block_add_attention = true;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;

  int levels() const { return int(block_out_channels.size()); }
  // Image pixels per latent pixel along each axis: 2^(levels-1) (8 for every real SD VAE).
  int scale_factor() const { return 1 << (levels() - 1); }

  bool operator==(const VaeConfig&) const = default;

  static VaeConfig parse(const io::Json& j, const std::string& what);
  static VaeConfig load(const std::string& path);
};

}  // namespace sd::models
