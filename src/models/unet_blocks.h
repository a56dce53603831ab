#pragma once
// diffusers models/unets/unet_2d_blocks.py: CrossAttnDownBlock2D / DownBlock2D,
// UNetMidBlock2DCrossAttn and CrossAttnUpBlock2D / UpBlock2D. A block type without
// attention is the same class with no `attentions`.
#include <string>
#include <vector>

#include "models/resnet.h"
#include "models/transformer_2d.h"
#include "models/unet_config.h"

namespace sd::models {

class UNetDownBlock {
 public:
  UNetDownBlock(const WeightSource& w, const std::string& prefix, const UNetBlockSpec& spec,
                const UNetConfig& cfg, DType dtype);
  // Appends each resnet(+attention) output and the downsampler output to `skips`.
  Tensor forward(Tensor h, const Tensor& temb_act, const Tensor& context, std::vector<Tensor>& skips) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  std::vector<Downsample2D> downsamplers_;
};

class UNetMidBlock2DCrossAttn {
 public:
  UNetMidBlock2DCrossAttn(const WeightSource& w, const std::string& prefix, const UNetMidSpec& spec,
                          const UNetConfig& cfg, DType dtype);
  Tensor forward(const Tensor& h, const Tensor& temb_act, const Tensor& context) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
};

class UNetUpBlock {
 public:
  UNetUpBlock(const WeightSource& w, const std::string& prefix, const UNetBlockSpec& spec, const UNetConfig& cfg,
              DType dtype);
  // Consumes one skip per resnet from the back of `skips`. upsample_h/w: the size the
  // upsampler must produce (0 = twice the input).
  Tensor forward(Tensor h, const Tensor& temb_act, const Tensor& context, std::vector<Tensor>& skips,
                 int64_t upsample_h, int64_t upsample_w) const;
  int num_resnets() const { return int(resnets_.size()); }
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  std::vector<Upsample2D> upsamplers_;
};

}  // namespace sd::models
