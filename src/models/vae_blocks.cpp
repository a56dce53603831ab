#include "models/vae_blocks.h"

#include "models/layers.h"

namespace sd::models {

namespace {

constexpr float kVaeEps = 1e-6f;

std::string child(const std::string& prefix, const char* list, int i) {
  return join(prefix, std::string(list) + "." + std::to_string(i));
}

}  // namespace

DownEncoderBlock2D::DownEncoderBlock2D(const WeightSource& w, const std::string& prefix, int in_channels,
                                       int out_channels, int num_layers, int groups, bool add_downsample,
                                       DType dtype) {
  for (int i = 0; i < num_layers; ++i)
    resnets_.emplace_back(w, child(prefix, "resnets", i), i == 0 ? in_channels : out_channels, out_channels, 0,
                          groups, kVaeEps, 1.f, dtype);
  // The encoder's downsamplers use padding 0: an asymmetric (0,1,0,1) pad.
  if (add_downsample) downsamplers_.emplace_back(w, child(prefix, "downsamplers", 0), out_channels, 0, dtype);
}

Tensor DownEncoderBlock2D::forward(Tensor h) const {
  for (const auto& r : resnets_) h = r.forward(std::move(h));
  for (const auto& d : downsamplers_) h = d.forward(h);
  return h;
}

UpDecoderBlock2D::UpDecoderBlock2D(const WeightSource& w, const std::string& prefix, int in_channels,
                                   int out_channels, int num_layers, int groups, bool add_upsample, DType dtype) {
  for (int i = 0; i < num_layers; ++i)
    resnets_.emplace_back(w, child(prefix, "resnets", i), i == 0 ? in_channels : out_channels, out_channels, 0,
                          groups, kVaeEps, 1.f, dtype);
  if (add_upsample) upsamplers_.emplace_back(w, child(prefix, "upsamplers", 0), out_channels, dtype, /*fused=*/true);
}

Tensor UpDecoderBlock2D::forward(Tensor h) const {
  for (const auto& r : resnets_) h = r.forward(std::move(h));
  for (const auto& u : upsamplers_) h = u.forward(h);
  return h;
}

UNetMidBlock2D::UNetMidBlock2D(const WeightSource& w, const std::string& prefix, int channels, int groups,
                               bool add_attention, DType dtype) {
  resnets_.emplace_back(w, child(prefix, "resnets", 0), channels, channels, 0, groups, kVaeEps, 1.f, dtype);
  // attention_head_dim = channels: one head spanning all channels.
  if (add_attention)
    attentions_.emplace_back(w, child(prefix, "attentions", 0), channels, 0, 1, channels, true, dtype, groups,
                             kVaeEps);
  resnets_.emplace_back(w, child(prefix, "resnets", 1), channels, channels, 0, groups, kVaeEps, 1.f, dtype);
}

Tensor UNetMidBlock2D::forward(const Tensor& x) const {
  Tensor h = resnets_[0].forward(x);
  for (const auto& a : attentions_) h = a.forward_image(h);
  return resnets_[1].forward(std::move(h));
}

}  // namespace sd::models
