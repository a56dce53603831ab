#pragma once
// transformers CLIPTextModel / CLIPTextModelWithProjection (models/clip/modeling_clip.py):
// token + position embeddings, pre-norm causal transformer layers, final LayerNorm, the
// pooled EOS feature and, with projection, text_embeds.
#include <memory>
#include <string>
#include <vector>

#include "models/clip_config.h"
#include "models/module_registry.h"
#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

struct ClipTextOutput {
  Tensor last_hidden_state;           // [B, L, hidden] after final_layer_norm
  std::vector<Tensor> hidden_states;  // num_hidden_layers + 1: [0] embeddings, [i] after layer i (no final LN)
  Tensor pooled_output;               // [B, hidden]: last_hidden_state at each row's EOS position
  Tensor text_embeds;                 // [B, projection_dim]: text_projection(pooled); WithProjection only
};

class CLIPEncoderLayer {
 public:
  CLIPEncoderLayer(const WeightSource& w, const std::string& prefix, const ClipTextConfig& c, DType dtype);
  Tensor forward(const Tensor& x) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix);
  Device device() const { return q_proj_.device(); }

 private:
  int heads_;
  ops::Activation act_;
  ops::LayerNorm layer_norm1_;
  ops::Linear q_proj_, k_proj_, v_proj_, out_proj_;  // self_attn.*
  ops::LayerNorm layer_norm2_;
  ops::Linear fc1_, fc2_;  // mlp.*
};

class ClipTextModel {
 public:
  // Loads text_projection when the config is CLIPTextModelWithProjection.
  ClipTextModel(const ClipTextConfig& config, const WeightSource& weights, DType dtype = DType::F32);
  // Reads <dir>/config.json and the weights of the folder <dir> (e.g. model/text_encoder_2).
  static std::unique_ptr<ClipTextModel> load(const std::string& dir, DType dtype = DType::F32);

  // input_ids [B, L] int64 or int32, L <= max_position_embeddings. All outputs float32
  // contiguous. No attention mask beyond the causal one, as the SD pipelines call it.
  // extra_tokens [N, hidden] (optional): the embeddings of ids vocab_size .. vocab_size+N-1,
  // tokens added for this call (textual inversion); they never count as the EOS.
  ClipTextOutput forward(const Tensor& input_ids, const Tensor& extra_tokens = {}) const;
  // final_layer_norm applied to any hidden state (diffusers' clip_skip), float32 out.
  Tensor final_layer_norm(const Tensor& hidden) const;
  // Every Linear by transformers path ("text_model.encoder.layers.0.self_attn.q_proj",
  // "text_projection"), for replacing weights in place (LoRA).
  ModuleRegistry modules();

  const ClipTextConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }
  // Where the encoder runs: its layers' device (loading places them). The token lookup and
  // the pooled output's gather stay on the host; hidden states are on this device.
  Device device() const { return layers_.front().device(); }

 private:
  Tensor embed(const Tensor& input_ids, const Tensor& extra_tokens) const;

  ClipTextConfig config_;
  DType dtype_;
  Tensor token_embedding_;     // [vocab, hidden], compute dtype
  Tensor position_embedding_;  // [max_positions, hidden], compute dtype
  std::vector<CLIPEncoderLayer> layers_;
  ops::LayerNorm final_layer_norm_;
  ops::Linear text_projection_;  // no bias
};

}  // namespace sd::models
