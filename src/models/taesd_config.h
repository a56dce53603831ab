#pragma once
// The configuration of a TAESD tiny autoencoder (madebyollin/taesd), from either of the
// two layouts its weights are published in:
// - a diffusers AutoencoderTiny folder: config.json + diffusion_pytorch_model.safetensors
//   with names "encoder.layers.N..." / "decoder.layers.N...";
// - madebyollin's bare files taesd_encoder / taesd_decoder (.safetensors), whose names
//   are the indices of an nn.Sequential ("1.weight", "3.conv.0.bias"). They carry no
//   config, so it is read off the tensor names and shapes.
//
// The FLUX.2 variant (taef2) adds a "pool" branch to the blocks at latent resolution
// (the decoder's first stage, the encoder's last): x + conv1x1(relu(GroupNorm(4,
// conv1x1(x)))) before the block. diffusers has no such option; here it is the flag
// use_midblock_gn (upstream's name), which a loader also sets when the weights hold the
// branch.
#include <string>
#include <vector>

#include "io/json_file.h"
#include "io/safetensors.h"

namespace sd::models {

struct TaesdConfig {
  int in_channels = 3;  // image channels
  int out_channels = 3;
  int latent_channels = 4;
  // One entry per stage. diffusers' EncoderTiny/DecoderTiny only work when the entries
  // of each list are equal (the stage convolutions keep the channel count), so that is
  // required here too.
  std::vector<int> encoder_block_out_channels{64, 64, 64, 64};
  std::vector<int> decoder_block_out_channels{64, 64, 64, 64};
  std::vector<int> num_encoder_blocks{1, 3, 3, 3};
  std::vector<int> num_decoder_blocks{3, 3, 3, 1};
  // Pipeline latents are divided by this before decoding (diffusers' pipelines do
  // latents / vae.config.scaling_factor); 1.0 for every published TAESD, whose latents
  // are the UNet-space latents themselves.
  float scaling_factor = 1.0f;
  bool use_midblock_gn = false;

  // Image pixels per latent pixel: 2^(stages-1) (8 for all published TAESDs).
  int decoder_scale_factor() const { return 1 << (int(num_decoder_blocks.size()) - 1); }
  int encoder_scale_factor() const { return 1 << (int(num_encoder_blocks.size()) - 1); }

  // Parses an AutoencoderTiny config.json; `what` names it in errors.
  static TaesdConfig parse(const io::Json& j, const std::string& what);
  static TaesdConfig load(const std::string& path);

  // The decoder half of the config read off a bare taesd_decoder file, the encoder half
  // off a bare taesd_encoder file; the other half keeps its defaults. Throws sd::Error
  // naming the file when the names do not follow the Sequential layout.
  void infer_decoder(const io::SafetensorsFile& f);
  void infer_encoder(const io::SafetensorsFile& f);
};

}  // namespace sd::models
