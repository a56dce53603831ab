#pragma once
// diffusers AutoencoderKL (models/autoencoders/autoencoder_kl.py with the Encoder and
// Decoder of vae.py). Sampling the latent distribution and the scaling_factor are the
// pipeline's business: encode returns the distribution's parameters, decode takes an
// unscaled latent.
#include <memory>
#include <string>
#include <vector>

#include "models/vae_blocks.h"
#include "models/vae_config.h"
#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

class VaeEncoder {
 public:
  VaeEncoder(const WeightSource& w, const std::string& prefix, const VaeConfig& c, DType dtype);
  // image [B, in_channels, H, W] -> moments [B, 2*latent_channels, H/f, W/f] (compute dtype).
  Tensor forward(const Tensor& x) const;

 private:
  ops::Conv2d conv_in_;
  std::vector<DownEncoderBlock2D> down_blocks_;
  UNetMidBlock2D mid_block_;
  ops::GroupNorm conv_norm_out_;
  ops::Conv2d conv_out_;
};

class VaeDecoder {
 public:
  VaeDecoder(const WeightSource& w, const std::string& prefix, const VaeConfig& c, DType dtype);
  Tensor forward(const Tensor& z) const;

 private:
  ops::Conv2d conv_in_;
  UNetMidBlock2D mid_block_;
  std::vector<UpDecoderBlock2D> up_blocks_;
  ops::GroupNorm conv_norm_out_;
  ops::Conv2d conv_out_;
};

// The diagonal Gaussian over latents (unscaled): DiagonalGaussianDistribution's parameters.
struct LatentDistribution {
  Tensor mean;    // [B, latent_channels, h, w] float32
  Tensor logvar;  // same shape, clamped to [-30, 20] as diffusers does
};

class AutoencoderKL {
 public:
  AutoencoderKL(const VaeConfig& config, const WeightSource& weights, DType dtype = DType::F32);
  // Reads <dir>/config.json and the weights of the diffusers folder <dir> (e.g. model/vae).
  static std::unique_ptr<AutoencoderKL> load(const std::string& dir, DType dtype = DType::F32);

  // image [B, in_channels, H, W] float32 in [-1, 1] (any layout).
  LatentDistribution encode(const Tensor& image) const;
  // z [B, latent_channels, h, w] float32, already divided by scaling_factor (and shifted
  // back where the config has a shift). Returns [B, out_channels, h*f, w*f] float32
  // contiguous NCHW, unclamped.
  Tensor decode(const Tensor& z) const;
  // diffusers' enable_vae_tiling: the image (or z) in tiles of `tile_size` image pixels
  // overlapping by a quarter, each output tile blended linearly into its upper and left
  // neighbours, so memory is bounded by one tile while the seams stay smooth. An input no
  // larger than one tile is processed whole. tile_size: a multiple of 4 * scale_factor()
  // (then the tiles' crops add up exactly); 0 means sample_size, diffusers' default.
  LatentDistribution encode_tiled(const Tensor& image, int tile_size = 0) const;
  Tensor decode_tiled(const Tensor& z, int tile_size = 0) const;
  // The tile size the tiled calls use for `tile_size`; throws for one they refuse.
  int resolve_tile_size(int tile_size) const;

  const VaeConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }
  float scaling_factor() const { return config_.scaling_factor; }
  int scale_factor() const { return config_.scale_factor(); }

 private:
  void check_image(const Tensor& image) const;
  void check_latent(const Tensor& z) const;
  // The encoder's output (after quant_conv): [B, 2*latent_channels, h, w] float32 NCHW.
  Tensor moments(const Tensor& image) const;
  LatentDistribution distribution(const Tensor& moments) const;

  VaeConfig config_;
  DType dtype_;
  VaeEncoder encoder_;
  VaeDecoder decoder_;
  ops::Conv2d quant_conv_, post_quant_conv_;  // 1x1, when the config uses them
};

}  // namespace sd::models
