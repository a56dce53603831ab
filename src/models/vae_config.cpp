#include "models/vae_config.h"

#include "core/error.h"
#include "models/config_checks.h"

namespace sd::models {

using io::json_get;
using io::Json;

// An optional list of floats (latents_mean/latents_std): empty when absent or null.
static std::vector<float> float_list(const Json& j, const std::string& key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_array()) throw Error(what + ": \"" + key + "\" is not a list");
  std::vector<float> v;
  for (auto& e : *it) {
    if (!e.is_number()) throw Error(what + ": \"" + key + "\" holds a non-number");
    v.push_back(e.get<float>());
  }
  return v;
}

VaeConfig VaeConfig::parse(const Json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": not a JSON object");
  require_supported(j, "_class_name", {"AutoencoderKL"}, what);
  require_supported(j, "act_fn", {"silu"}, what);

  VaeConfig c;
  c.in_channels = require_positive(json_get(j, "in_channels", c.in_channels, what), "in_channels", what);
  c.out_channels = require_positive(json_get(j, "out_channels", c.out_channels, what), "out_channels", what);
  c.latent_channels =
      require_positive(json_get(j, "latent_channels", c.latent_channels, what), "latent_channels", what);
  c.block_out_channels = json_get(j, "block_out_channels", c.block_out_channels, what);
  if (c.block_out_channels.empty()) throw Error(what + ": \"block_out_channels\" is empty");
  c.layers_per_block =
      require_positive(json_get(j, "layers_per_block", c.layers_per_block, what), "layers_per_block", what);
  c.norm_num_groups =
      require_positive(json_get(j, "norm_num_groups", c.norm_num_groups, what), "norm_num_groups", what);
  for (int ch : c.block_out_channels) {
    require_positive(ch, "block_out_channels", what);
    if (ch % c.norm_num_groups != 0)
      throw Error(what + ": block_out_channels entry " + std::to_string(ch) +
                  " is not divisible by norm_num_groups " + std::to_string(c.norm_num_groups));
  }
  const auto n = c.block_out_channels.size();
  const auto down = json_get(j, "down_block_types", std::vector<std::string>(n, "DownEncoderBlock2D"), what);
  const auto up = json_get(j, "up_block_types", std::vector<std::string>(n, "UpDecoderBlock2D"), what);
  require_each_in(down, "down_block_types", {"DownEncoderBlock2D"}, what);
  require_each_in(up, "up_block_types", {"UpDecoderBlock2D"}, what);
  if (down.size() != n || up.size() != n)
    throw Error(what + ": block_out_channels, down_block_types and up_block_types must have the same length");

  c.sample_size = square_sample_size(j, c.sample_size, what);
  c.scaling_factor = json_get(j, "scaling_factor", c.scaling_factor, what);
  if (!(c.scaling_factor > 0)) throw Error(what + ": \"scaling_factor\" must be positive");
  if (j.contains("shift_factor") && !j["shift_factor"].is_null())
    c.shift_factor = json_get(j, "shift_factor", 0.f, what);
  c.latents_mean = float_list(j, "latents_mean", what);
  c.latents_std = float_list(j, "latents_std", what);
  for (const auto* v : {&c.latents_mean, &c.latents_std})
    if (!v->empty() && int(v->size()) != c.latent_channels)
      throw Error(what + ": latents_mean/latents_std must have latent_channels (" +
                  std::to_string(c.latent_channels) + ") entries");
  c.force_upcast = json_get(j, "force_upcast", c.force_upcast, what);
  c.mid_block_add_attention = json_get(j, "mid_block_add_attention", c.mid_block_add_attention, what);
  c.use_quant_conv = json_get(j, "use_quant_conv", c.use_quant_conv, what);
  c.use_post_quant_conv = json_get(j, "use_post_quant_conv", c.use_post_quant_conv, what);
  return c;
}

VaeConfig VaeConfig::load(const std::string& path) { return parse(io::read_json_file(path), path); }

}  // namespace sd::models
