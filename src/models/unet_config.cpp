#include "models/unet_config.h"

#include <algorithm>

#include "core/error.h"
#include "models/config_checks.h"

namespace sd::models {

using io::json_get;
using io::Json;

namespace {

bool is_cross_attn(const std::string& type) { return type.rfind("CrossAttn", 0) == 0; }

// "only_cross_attention" may be one bool or a list of bools; only all-false is supported.
void require_no_only_cross_attention(const Json& j, const std::string& what) {
  auto it = j.find("only_cross_attention");
  if (it == j.end() || it->is_null()) return;
  bool any = it->is_boolean() ? it->get<bool>() : false;
  if (it->is_array())
    for (auto& e : *it) any = any || (e.is_boolean() && e.get<bool>());
  if (any || !(it->is_boolean() || it->is_array()))
    throw Error(what + ": \"only_cross_attention\" = " + it->dump() + " is not supported (false)");
}

void check_heads_divide(int channels, int heads, const std::string& where, const std::string& what) {
  if (channels % heads != 0)
    throw Error(what + ": " + where + " has " + std::to_string(channels) +
                " channels, not divisible by its " + std::to_string(heads) +
                " attention heads (\"attention_head_dim\" holds the head counts)");
}

}  // namespace

UNetConfig UNetConfig::parse(const Json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": not a JSON object");
  require_supported(j, "_class_name", {"UNet2DConditionModel"}, what);
  // Keys that select an architecture this engine does not implement.
  require_supported(j, "act_fn", {"silu"}, what);
  require_supported(j, "addition_embed_type", {"text_time"}, what);
  require_supported(j, "attention_type", {"default"}, what);
  require_supported(j, "class_embed_type", {}, what);
  require_supported(j, "num_class_embeds", {}, what);
  require_supported(j, "class_embeddings_concat", {false}, what);
  require_supported(j, "cross_attention_norm", {}, what);
  require_supported(j, "dual_cross_attention", {false}, what);
  require_supported(j, "encoder_hid_dim", {}, what);
  require_supported(j, "encoder_hid_dim_type", {}, what);
  require_supported(j, "mid_block_only_cross_attention", {false}, what);
  require_supported(j, "resnet_skip_time_act", {false}, what);
  require_supported(j, "resnet_time_scale_shift", {"default"}, what);
  require_supported(j, "reverse_transformer_layers_per_block", {}, what);
  require_supported(j, "time_cond_proj_dim", {}, what);
  require_supported(j, "time_embedding_act_fn", {}, what);
  require_supported(j, "time_embedding_type", {"positional"}, what);
  require_supported(j, "timestep_post_act", {}, what);
  require_no_only_cross_attention(j, what);
  if (j.contains("num_attention_heads") && !j["num_attention_heads"].is_null())
    throw Error(what + ": \"num_attention_heads\" is not supported by UNet2DConditionModel "
                "(diffusers reads the head count from \"attention_head_dim\")");
  if (j.contains("mid_block_type")) {
    const Json& m = j["mid_block_type"];
    if (!(m.is_string() && m.get<std::string>() == "UNetMidBlock2DCrossAttn"))
      throw Error(what + ": \"mid_block_type\" = " + m.dump() +
                  " is not supported (\"UNetMidBlock2DCrossAttn\")");
  }
  if (j.contains("norm_num_groups") && j["norm_num_groups"].is_null())
    throw Error(what + ": \"norm_num_groups\" = null (no output norm) is not supported");

  UNetConfig c;
  c.in_channels = require_positive(json_get(j, "in_channels", c.in_channels, what), "in_channels", what);
  c.out_channels = require_positive(json_get(j, "out_channels", c.out_channels, what), "out_channels", what);
  c.sample_size = square_sample_size(j, c.sample_size, what);
  c.center_input_sample = json_get(j, "center_input_sample", c.center_input_sample, what);
  c.flip_sin_to_cos = json_get(j, "flip_sin_to_cos", c.flip_sin_to_cos, what);
  c.freq_shift = json_get(j, "freq_shift", c.freq_shift, what);

  c.down_block_types = json_get<std::vector<std::string>>(
      j, "down_block_types",
      {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}, what);
  c.up_block_types = json_get<std::vector<std::string>>(
      j, "up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"},
      what);
  c.block_out_channels = json_get<std::vector<int>>(j, "block_out_channels", {320, 640, 1280, 1280}, what);
  require_each_in(c.down_block_types, "down_block_types", {"CrossAttnDownBlock2D", "DownBlock2D"}, what);
  require_each_in(c.up_block_types, "up_block_types", {"CrossAttnUpBlock2D", "UpBlock2D"}, what);
  const size_t n = c.block_out_channels.size();
  if (n == 0) throw Error(what + ": \"block_out_channels\" is empty");
  if (c.down_block_types.size() != n || c.up_block_types.size() != n)
    throw Error(what + ": block_out_channels, down_block_types and up_block_types must have the same "
                "length (" + std::to_string(n) + ", " + std::to_string(c.down_block_types.size()) + ", " +
                std::to_string(c.up_block_types.size()) + ")");
  for (int ch : c.block_out_channels) require_positive(ch, "block_out_channels", what);

  c.layers_per_block = positive_int_list(j, "layers_per_block", n, std::vector<int>(n, 2), what);
  c.num_attention_heads = positive_int_list(j, "attention_head_dim", n, std::vector<int>(n, 8), what);
  if (j.contains("transformer_layers_per_block") && j["transformer_layers_per_block"].is_array())
    for (auto& e : j["transformer_layers_per_block"])
      if (e.is_array())
        throw Error(what + ": nested \"transformer_layers_per_block\" lists are not supported");
  c.transformer_layers_per_block =
      positive_int_list(j, "transformer_layers_per_block", n, std::vector<int>(n, 1), what);
  c.cross_attention_dim = positive_int_list(j, "cross_attention_dim", n, std::vector<int>(n, 1280), what);
  for (int d : c.cross_attention_dim)
    if (d != c.cross_attention_dim[0])
      throw Error(what + ": \"cross_attention_dim\" entries differ; one context cannot feed every block");

  c.downsample_padding = json_get(j, "downsample_padding", c.downsample_padding, what);
  if (c.downsample_padding < 0) throw Error(what + ": \"downsample_padding\" must not be negative");
  c.mid_block_scale_factor = json_get(j, "mid_block_scale_factor", c.mid_block_scale_factor, what);
  c.resnet_out_scale_factor = json_get(j, "resnet_out_scale_factor", c.resnet_out_scale_factor, what);
  c.norm_num_groups = require_positive(json_get(j, "norm_num_groups", c.norm_num_groups, what), "norm_num_groups", what);
  c.norm_eps = json_get(j, "norm_eps", c.norm_eps, what);
  c.use_linear_projection = json_get(j, "use_linear_projection", c.use_linear_projection, what);
  c.upcast_attention = json_get(j, "upcast_attention", c.upcast_attention, what);
  c.conv_in_kernel = require_positive(json_get(j, "conv_in_kernel", c.conv_in_kernel, what), "conv_in_kernel", what);
  c.conv_out_kernel = require_positive(json_get(j, "conv_out_kernel", c.conv_out_kernel, what), "conv_out_kernel", what);
  if (c.conv_in_kernel % 2 == 0 || c.conv_out_kernel % 2 == 0)
    throw Error(what + ": conv_in_kernel and conv_out_kernel must be odd");
  c.time_embed_dim = require_positive(
      json_get(j, "time_embedding_dim", c.block_out_channels[0] * 4, what), "time_embedding_dim", what);

  c.text_time_embedding = json_get<std::string>(j, "addition_embed_type", "", what) == "text_time";
  if (c.text_time_embedding) {
    c.addition_time_embed_dim = require_positive(json_get(j, "addition_time_embed_dim", 0, what),
                                                 "addition_time_embed_dim", what);
    c.projection_class_embeddings_input_dim =
        require_positive(json_get(j, "projection_class_embeddings_input_dim", 0, what),
                         "projection_class_embeddings_input_dim", what);
  }

  // Every group norm splits its channels into norm_num_groups groups, and every attention
  // splits them into heads.
  for (int ch : c.block_out_channels)
    if (ch % c.norm_num_groups != 0)
      throw Error(what + ": block_out_channels entry " + std::to_string(ch) +
                  " is not divisible by norm_num_groups " + std::to_string(c.norm_num_groups));
  for (const auto& b : c.down_blocks())
    if (b.has_attention) check_heads_divide(b.out_channels, b.heads, "a down block", what);
  for (const auto& b : c.up_blocks())
    if (b.has_attention) check_heads_divide(b.out_channels, b.heads, "an up block", what);
  const UNetMidSpec mid = c.mid_block();
  check_heads_divide(mid.channels, mid.heads, "the mid block", what);
  return c;
}

UNetConfig UNetConfig::load(const std::string& path) { return parse(io::read_json_file(path), path); }

std::vector<UNetBlockSpec> UNetConfig::down_blocks() const {
  std::vector<UNetBlockSpec> out;
  int output_channel = block_out_channels[0];
  for (int i = 0; i < levels(); ++i) {
    const int input_channel = output_channel;
    output_channel = block_out_channels[i];
    UNetBlockSpec b;
    b.type = down_block_types[i];
    b.has_attention = is_cross_attn(b.type);
    b.out_channels = output_channel;
    for (int r = 0; r < layers_per_block[i]; ++r) b.resnet_in_channels.push_back(r == 0 ? input_channel : output_channel);
    if (b.has_attention) {
      b.heads = num_attention_heads[i];
      b.head_dim = output_channel / b.heads;
      b.transformer_layers = transformer_layers_per_block[i];
      b.cross_attention_dim = cross_attention_dim[i];
    }
    b.add_sampler = i != levels() - 1;
    out.push_back(b);
  }
  return out;
}

UNetMidSpec UNetConfig::mid_block() const {
  UNetMidSpec m;
  m.channels = block_out_channels.back();
  m.heads = num_attention_heads.back();
  m.head_dim = m.channels / m.heads;
  m.transformer_layers = transformer_layers_per_block.back();
  m.cross_attention_dim = cross_attention_dim.back();
  return m;
}

std::vector<UNetBlockSpec> UNetConfig::up_blocks() const {
  const int n = levels();
  auto rev = [n](const std::vector<int>& v, int i) { return v[n - 1 - i]; };
  std::vector<UNetBlockSpec> out;
  int output_channel = block_out_channels.back();
  for (int i = 0; i < n; ++i) {
    const int prev_output_channel = output_channel;
    output_channel = rev(block_out_channels, i);
    const int input_channel = rev(block_out_channels, std::min(i + 1, n - 1));
    UNetBlockSpec b;
    b.type = up_block_types[i];
    b.has_attention = is_cross_attn(b.type);
    b.out_channels = output_channel;
    const int layers = rev(layers_per_block, i) + 1;
    for (int r = 0; r < layers; ++r) {
      const int skip = r == layers - 1 ? input_channel : output_channel;
      b.resnet_in_channels.push_back((r == 0 ? prev_output_channel : output_channel) + skip);
    }
    if (b.has_attention) {
      b.heads = rev(num_attention_heads, i);
      b.head_dim = output_channel / b.heads;
      b.transformer_layers = rev(transformer_layers_per_block, i);
      b.cross_attention_dim = rev(cross_attention_dim, i);
    }
    b.add_sampler = i != n - 1;
    out.push_back(b);
  }
  return out;
}

}  // namespace sd::models
