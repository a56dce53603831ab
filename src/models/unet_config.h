#pragma once
// The diffusers UNet2DConditionModel config (unet/config.json) and the per-block numbers
// diffusers derives from it (channels, heads, layers of each down/mid/up block).
#include <string>
#include <vector>

#include "io/json_file.h"

namespace sd::models {

// One down or up block as UNet2DConditionModel.__init__ builds it.
struct UNetBlockSpec {
  std::string type;             // "CrossAttnDownBlock2D", "DownBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"
  bool has_attention = false;   // CrossAttn* blocks: one Transformer2DModel per resnet
  int out_channels = 0;
  std::vector<int> resnet_in_channels;  // one per resnet; up blocks include the skip channels
  int heads = 0;                // attention heads (diffusers' "attention_head_dim")
  int head_dim = 0;             // out_channels / heads
  int transformer_layers = 0;   // BasicTransformerBlocks per Transformer2DModel
  int cross_attention_dim = 0;
  bool add_sampler = false;     // downsamplers.0 / upsamplers.0 at the end of the block
  int num_layers() const { return int(resnet_in_channels.size()); }
};

// UNetMidBlock2DCrossAttn: resnets.0, attentions.0, resnets.1.
struct UNetMidSpec {
  int channels = 0;
  int heads = 0;
  int head_dim = 0;
  int transformer_layers = 0;
  int cross_attention_dim = 0;
};

struct UNetConfig {
  int in_channels = 4;
  int out_channels = 4;
  int sample_size = 64;  // default latent height and width
  bool center_input_sample = false;
  bool flip_sin_to_cos = true;
  int freq_shift = 0;
  std::vector<std::string> down_block_types, up_block_types;
  std::vector<int> block_out_channels;
  // Per down block, as lists (diffusers accepts an int for all blocks). Up blocks use them
  // reversed; the mid block uses the last entry.
  std::vector<int> layers_per_block;
  std::vector<int> num_attention_heads;  // from "attention_head_dim": it holds heads
  std::vector<int> transformer_layers_per_block;
  std::vector<int> cross_attention_dim;
  int downsample_padding = 1;
  float mid_block_scale_factor = 1.f;
  float resnet_out_scale_factor = 1.f;
  int norm_num_groups = 32;
  float norm_eps = 1e-5f;
  bool use_linear_projection = false;
  bool upcast_attention = false;  // a no-op here: attention accumulates in float32 anyway
  int conv_in_kernel = 3;
  int conv_out_kernel = 3;
  int time_embed_dim = 0;  // "time_embedding_dim" or 4 * block_out_channels[0]
  // SDXL "text_time": add_embedding(cat(text_embeds, timestep embedding of each time id)).
  bool text_time_embedding = false;
  int addition_time_embed_dim = 0;
  int projection_class_embeddings_input_dim = 0;

  int levels() const { return int(block_out_channels.size()); }
  // How many times the latent is halved (the number of downsamplers).
  int num_downsamplers() const { return levels() - 1; }
  // Width of encoder_hidden_states (every block's cross-attention reads the same context).
  int context_dim() const { return cross_attention_dim.back(); }

  std::vector<UNetBlockSpec> down_blocks() const;
  UNetMidSpec mid_block() const;
  std::vector<UNetBlockSpec> up_blocks() const;

  bool operator==(const UNetConfig&) const = default;

  static UNetConfig parse(const io::Json& j, const std::string& what);
  static UNetConfig load(const std::string& path);
};

}  // namespace sd::models
