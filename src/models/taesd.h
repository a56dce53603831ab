#pragma once
// TAESD, the tiny autoencoder (madebyollin/taesd; diffusers AutoencoderTiny with the
// EncoderTiny/DecoderTiny of models/autoencoders/vae.py): conv3x3 + ReLU residual blocks,
// stride-2 convolutions down, nearest 2x upsampling up, no attention and no norms except
// the optional taef2 GroupNorm branch.
//
// Value conventions (the two upstreams differ; both are offered, named apart):
// - TaesdEncoder / TaesdDecoder are madebyollin's Sequentials: the encoder takes an
//   image in [0,1]; the decoder starts with the soft clamp tanh(z/3)*3 and returns an
//   image nominally in [0,1], unclamped.
// - Taesd::encode / Taesd::decode are diffusers' AutoencoderTiny: images in [-1,1]
//   (encode maps (x+1)/2 in, decode maps 2y-1 out), like AutoencoderKL.
// Latents are the same in both: for SD TAESDs they are the UNet-space latents (the SD
// VAE's latents already multiplied by its scaling_factor), which is why AutoencoderTiny's
// scaling_factor is 1.0 and a pipeline hands its latents over as they are.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/taesd_config.h"
#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

// diffusers AutoencoderTinyBlock / taesd Block with equal in and out channels (so the
// skip is the identity): relu(conv(x) + x), conv = conv3x3, ReLU, conv3x3, ReLU, conv3x3.
// With the taef2 pool branch, x first becomes x + pool(x), pool = conv1x1 (4x channels,
// no bias), GroupNorm(4 groups), ReLU, conv1x1 back (no bias).
class AutoencoderTinyBlock {
 public:
  AutoencoderTinyBlock(const WeightSource& w, const std::string& prefix, int channels, bool pool, DType dtype);
  Tensor forward(const Tensor& x) const;

 private:
  ops::Conv2d conv0_, conv2_, conv4_;
  ops::Conv2d pool0_, pool3_;  // undefined without the pool branch
  ops::GroupNorm pool1_;
};

// The encoder Sequential ("encoder.layers.N"): image [B, in, H, W] in [0,1] ->
// latents [B, latent, H/f, W/f].
class TaesdEncoder {
 public:
  TaesdEncoder(const WeightSource& w, const std::string& prefix, const TaesdConfig& c, DType dtype);
  Tensor forward(const Tensor& x) const;  // float32 contiguous NCHW

 private:
  struct Stage {
    ops::Conv2d conv;  // the first stage's input conv, then the stride-2 ones
    std::vector<AutoencoderTinyBlock> blocks;
  };
  std::vector<Stage> stages_;
  ops::Conv2d conv_out_;
};

// The decoder Sequential ("decoder.layers.N", shifted by one in the bare files):
// latents [B, latent, h, w] -> image [B, out, h*f, w*f], nominally [0,1], unclamped.
class TaesdDecoder {
 public:
  TaesdDecoder(const WeightSource& w, const std::string& prefix, const TaesdConfig& c, DType dtype);
  Tensor forward(const Tensor& z) const;  // float32 contiguous NCHW

 private:
  struct Stage {
    std::vector<AutoencoderTinyBlock> blocks;
    ops::Conv2d conv;  // after the upsampling; the last stage's is the output conv
  };
  ops::Conv2d conv_in_;
  std::vector<Stage> stages_;
};

// Which halves to build: preview decoding needs only the decoder.
struct TaesdParts {
  bool encoder = true;
  bool decoder = true;
};

class Taesd {
 public:
  Taesd(const TaesdConfig& config, const WeightSource& w, DType dtype = DType::F32, TaesdParts parts = {});

  // A diffusers AutoencoderTiny folder (config.json + weights, both halves), or one bare
  // taesd_decoder / taesd_encoder .safetensors file (that half only). Throws sd::Error
  // naming the path and the problem.
  static std::unique_ptr<Taesd> load(const std::string& path, DType dtype = DType::F32);
  // Bare files for both halves (either path may be empty).
  static std::unique_ptr<Taesd> load_bare(const std::string& encoder_path, const std::string& decoder_path,
                                          DType dtype = DType::F32);

  bool has_encoder() const { return encoder_.has_value(); }
  bool has_decoder() const { return decoder_.has_value(); }
  // madebyollin conventions; throw when the half was not loaded.
  const TaesdEncoder& encoder() const;
  const TaesdDecoder& decoder() const;

  // diffusers AutoencoderTiny conventions: image [B, in, H, W] in [-1,1] -> latents.
  Tensor encode(const Tensor& image) const;
  // latents (already divided by scaling_factor, 1.0 in practice) -> image in [-1,1],
  // unclamped, float32 contiguous NCHW.
  Tensor decode(const Tensor& latents) const;

  const TaesdConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }
  float scaling_factor() const { return config_.scaling_factor; }
  int scale_factor() const { return config_.decoder_scale_factor(); }

 private:
  TaesdConfig config_;
  DType dtype_;
  std::optional<TaesdEncoder> encoder_;
  std::optional<TaesdDecoder> decoder_;
};

}  // namespace sd::models
