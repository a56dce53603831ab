#pragma once
// diffusers models/resnet.py and models/{downsampling,upsampling}.py: the residual block
// and the resamplers shared by the UNet and the VAE.
#include <string>

#include "models/module_registry.h"
#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

// ResnetBlock2D with time_embedding_norm "default":
// out = (shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + time_emb_proj(silu(temb)))))) / scale
class ResnetBlock2D {
 public:
  // temb_channels 0: no time embedding (the VAE's blocks).
  ResnetBlock2D(const WeightSource& w, const std::string& prefix, int in_channels, int out_channels,
                int temb_channels, int groups, float eps, float output_scale_factor, DType dtype);
  // temb_act: silu(time embedding) [B, temb_channels], shared by every block of a UNet
  // call (diffusers applies the SiLU inside each block; the result is the same).
  // x is taken by value: a caller that moves it in lets the block normalise it in place
  // and free it early (see forward()).
  Tensor forward(Tensor x, const Tensor* temb_act = nullptr) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  ops::GroupNorm norm1_;
  ops::Conv2d conv1_;
  ops::Linear time_emb_proj_;
  ops::GroupNorm norm2_;
  ops::Conv2d conv2_;
  ops::Conv2d conv_shortcut_;  // 1x1, only when in_channels != out_channels
  float output_scale_factor_;
};

// Downsample2D with use_conv: a 3x3 stride-2 conv. padding 0 means diffusers' asymmetric
// (0,1,0,1) zero pad (the VAE encoder), which the conv's own padding expresses exactly.
class Downsample2D {
 public:
  Downsample2D(const WeightSource& w, const std::string& prefix, int channels, int padding, DType dtype);
  Tensor forward(const Tensor& x) const { return conv_.forward(x); }
  void register_modules(ModuleRegistry& r, const std::string& prefix) { r.add(prefix + ".conv", conv_); }

 private:
  ops::Conv2d conv_;
};

// Upsample2D with use_conv: nearest-neighbour to (height, width), then a 3x3 conv.
// fused: upsampling and conv computed together (ops::UpsampleConv2d), faster and without
// the 4x-sized intermediate but with 16/9 of the conv's weight memory and no LoRA access
// to it. The VAE decoder uses it; the UNet, whose upsamplers hold most of their weights
// at low resolution and may take LoRA or odd output sizes, does not.
class Upsample2D {
 public:
  Upsample2D(const WeightSource& w, const std::string& prefix, int channels, DType dtype, bool fused = false);
  // height/width 0: twice the input. Otherwise a size of at most twice the input, which the
  // UNet asks for when the latent size is not a multiple of 2^downsamplers.
  Tensor forward(const Tensor& x, int64_t height = 0, int64_t width = 0) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix) { r.add(prefix + ".conv", conv_); }

 private:
  ops::Conv2d conv_;
  ops::UpsampleConv2d fused_conv_;
};

}  // namespace sd::models
