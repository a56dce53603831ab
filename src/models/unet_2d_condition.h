#pragma once
// diffusers models/unets/unet_2d_condition.py UNet2DConditionModel, shaped by its config:
// SD1.x, SD2.x (linear projections, per-block heads), SDXL (text_time added conditioning,
// several transformer layers per block) and inpainting (9 input channels) alike.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/embeddings.h"
#include "models/module_registry.h"
#include "models/trace.h"
#include "models/unet_blocks.h"
#include "models/unet_config.h"
#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

// SDXL's added conditioning ("text_time").
struct UNetAddedCond {
  Tensor text_embeds;  // [B, pooled dim] float32 (text_encoder_2's projected pooled output)
  Tensor time_ids;     // [B, n] float32: original (h, w), crop (top, left), target (h, w)
};

class UNet2DConditionModel {
 public:
  // dtype: F32 or BF16, the dtype convolutions, matmuls and activations run in.
  UNet2DConditionModel(const UNetConfig& config, const WeightSource& weights, DType dtype = DType::F32);
  // Reads <dir>/config.json and the weights of the diffusers folder <dir> (e.g. model/unet).
  // prepare_on: the layers are prepared on that device as their weights are read
  // (WeightSource::prepare_layers_on).
  static std::unique_ptr<UNet2DConditionModel> load(const std::string& dir, DType dtype = DType::F32,
                                                    std::optional<Device> prepare_on = std::nullopt);

  // sample [B, in_channels, H, W] float32 (any layout); timesteps: one per batch row, or
  // one for all; encoder_hidden_states [B, L, cross_attention_dim] float32; `added` is
  // required exactly when the config has addition_embed_type "text_time". Returns the
  // model output (eps, or v for v-prediction models) as float32 contiguous NCHW
  // [B, out_channels, H, W]. `trace` sees the outputs of time_proj, time_embedding,
  // add_embedding, conv_in, each down block, mid_block, each up block and conv_norm_out.
  Tensor forward(const Tensor& sample, const std::vector<float>& timesteps, const Tensor& encoder_hidden_states,
                 const UNetAddedCond* added = nullptr, const TraceFn& trace = nullptr) const;

  // Every Linear and Conv2d by diffusers path, for replacing weights in place (LoRA).
  ModuleRegistry modules();

  const UNetConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }

 private:
  UNetConfig config_;
  DType dtype_;
  ops::Conv2d conv_in_;
  TimestepEmbedding time_embedding_;
  TimestepEmbedding add_embedding_;  // text_time only
  std::vector<UNetDownBlock> down_blocks_;
  std::unique_ptr<UNetMidBlock2DCrossAttn> mid_block_;
  std::vector<UNetUpBlock> up_blocks_;
  ops::GroupNorm conv_norm_out_;
  ops::Conv2d conv_out_;
};

}  // namespace sd::models
