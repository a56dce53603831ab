#pragma once
// The VAE's blocks from diffusers models/unets/unet_2d_blocks.py: DownEncoderBlock2D,
// UpDecoderBlock2D and UNetMidBlock2D (resnets without time embedding, one single-head
// attention). All their group norms use eps 1e-6.
#include <string>
#include <vector>

#include "models/attention.h"
#include "models/resnet.h"

namespace sd::models {

class DownEncoderBlock2D {
 public:
  DownEncoderBlock2D(const WeightSource& w, const std::string& prefix, int in_channels, int out_channels,
                     int num_layers, int groups, bool add_downsample, DType dtype);
  Tensor forward(Tensor h) const;

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Downsample2D> downsamplers_;
};

class UpDecoderBlock2D {
 public:
  UpDecoderBlock2D(const WeightSource& w, const std::string& prefix, int in_channels, int out_channels,
                   int num_layers, int groups, bool add_upsample, DType dtype);
  Tensor forward(Tensor h) const;

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Upsample2D> upsamplers_;
};

class UNetMidBlock2D {
 public:
  UNetMidBlock2D(const WeightSource& w, const std::string& prefix, int channels, int groups, bool add_attention,
                 DType dtype);
  Tensor forward(const Tensor& x) const;

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Attention> attentions_;
};

}  // namespace sd::models
