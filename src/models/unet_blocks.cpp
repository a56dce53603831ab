#include "models/unet_blocks.h"

#include "core/error.h"
#include "models/layers.h"

namespace sd::models {

namespace {

std::string child(const std::string& prefix, const char* list, int i) {
  return join(prefix, std::string(list) + "." + std::to_string(i));
}

Transformer2DModel make_transformer(const WeightSource& w, const std::string& prefix, int channels, int heads,
                                    int head_dim, int layers, int cross_dim, const UNetConfig& cfg, DType dtype) {
  return Transformer2DModel(w, prefix, channels, heads, head_dim, layers, cross_dim, cfg.norm_num_groups,
                            cfg.use_linear_projection, dtype);
}

// A down or up block's resnets, each followed by a transformer in a cross-attention block.
void add_layers(const WeightSource& w, const std::string& prefix, const UNetBlockSpec& spec, const UNetConfig& cfg,
                DType dtype, std::vector<ResnetBlock2D>& resnets, std::vector<Transformer2DModel>& attentions) {
  for (int i = 0; i < spec.num_layers(); ++i) {
    resnets.emplace_back(w, child(prefix, "resnets", i), spec.resnet_in_channels[i], spec.out_channels,
                         cfg.time_embed_dim, cfg.norm_num_groups, cfg.norm_eps, cfg.resnet_out_scale_factor, dtype);
    if (spec.has_attention)
      attentions.push_back(make_transformer(w, child(prefix, "attentions", i), spec.out_channels, spec.heads,
                                            spec.head_dim, spec.transformer_layers, spec.cross_attention_dim, cfg,
                                            dtype));
  }
}

// The entries of one of a block's module lists (resnets, attentions, samplers) as <prefix>.<list>.<i>.
template <class Module>
void register_list(ModuleRegistry& r, const std::string& prefix, const char* list, std::vector<Module>& modules) {
  for (size_t i = 0; i < modules.size(); ++i) modules[i].register_modules(r, child(prefix, list, int(i)));
}

}  // namespace

UNetDownBlock::UNetDownBlock(const WeightSource& w, const std::string& prefix, const UNetBlockSpec& spec,
                             const UNetConfig& cfg, DType dtype) {
  add_layers(w, prefix, spec, cfg, dtype, resnets_, attentions_);
  if (spec.add_sampler)
    downsamplers_.emplace_back(w, child(prefix, "downsamplers", 0), spec.out_channels, cfg.downsample_padding, dtype);
}

Tensor UNetDownBlock::forward(Tensor h, const Tensor& temb_act, const Tensor& context,
                              std::vector<Tensor>& skips) const {
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = resnets_[i].forward(h, &temb_act);
    if (!attentions_.empty()) h = attentions_[i].forward(h, context);
    skips.push_back(h);
  }
  for (const auto& down : downsamplers_) {
    h = down.forward(h);
    skips.push_back(h);
  }
  return h;
}

void UNetDownBlock::register_modules(ModuleRegistry& r, const std::string& prefix) {
  register_list(r, prefix, "resnets", resnets_);
  register_list(r, prefix, "attentions", attentions_);
  register_list(r, prefix, "downsamplers", downsamplers_);
}

UNetMidBlock2DCrossAttn::UNetMidBlock2DCrossAttn(const WeightSource& w, const std::string& prefix,
                                                 const UNetMidSpec& spec, const UNetConfig& cfg, DType dtype) {
  for (int i = 0; i < 2; ++i)
    resnets_.emplace_back(w, child(prefix, "resnets", i), spec.channels, spec.channels, cfg.time_embed_dim,
                          cfg.norm_num_groups, cfg.norm_eps, cfg.mid_block_scale_factor, dtype);
  attentions_.push_back(make_transformer(w, child(prefix, "attentions", 0), spec.channels, spec.heads, spec.head_dim,
                                         spec.transformer_layers, spec.cross_attention_dim, cfg, dtype));
}

Tensor UNetMidBlock2DCrossAttn::forward(const Tensor& x, const Tensor& temb_act, const Tensor& context) const {
  Tensor h = resnets_[0].forward(x, &temb_act);
  h = attentions_[0].forward(h, context);
  return resnets_[1].forward(h, &temb_act);
}

void UNetMidBlock2DCrossAttn::register_modules(ModuleRegistry& r, const std::string& prefix) {
  register_list(r, prefix, "resnets", resnets_);
  register_list(r, prefix, "attentions", attentions_);
}

UNetUpBlock::UNetUpBlock(const WeightSource& w, const std::string& prefix, const UNetBlockSpec& spec,
                         const UNetConfig& cfg, DType dtype) {
  add_layers(w, prefix, spec, cfg, dtype, resnets_, attentions_);
  if (spec.add_sampler) upsamplers_.emplace_back(w, child(prefix, "upsamplers", 0), spec.out_channels, dtype);
}

Tensor UNetUpBlock::forward(Tensor h, const Tensor& temb_act, const Tensor& context, std::vector<Tensor>& skips,
                            int64_t upsample_h, int64_t upsample_w) const {
  for (size_t i = 0; i < resnets_.size(); ++i) {
    SD_CHECK(!skips.empty(), "UNet up block ran out of skip connections");
    Tensor skip = std::move(skips.back());
    skips.pop_back();
    h = resnets_[i].forward(ops::concat({h, skip}, 1), &temb_act);
    if (!attentions_.empty()) h = attentions_[i].forward(h, context);
  }
  for (const auto& up : upsamplers_) h = up.forward(h, upsample_h, upsample_w);
  return h;
}

void UNetUpBlock::register_modules(ModuleRegistry& r, const std::string& prefix) {
  register_list(r, prefix, "resnets", resnets_);
  register_list(r, prefix, "attentions", attentions_);
  register_list(r, prefix, "upsamplers", upsamplers_);
}

}  // namespace sd::models
