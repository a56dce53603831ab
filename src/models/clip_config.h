#pragma once
// The transformers CLIPTextConfig (text_encoder/config.json, text_encoder_2/config.json).
#include <string>

#include "io/json_file.h"
#include "ops/ops.h"

namespace sd::models {

struct ClipTextConfig {
  int vocab_size = 49408;
  int hidden_size = 512;
  int intermediate_size = 2048;
  int num_hidden_layers = 12;
  int num_attention_heads = 8;
  int max_position_embeddings = 77;
  ops::Activation hidden_act = ops::Activation::QuickGELU;  // "quick_gelu" or "gelu"
  float layer_norm_eps = 1e-5f;
  int projection_dim = 512;
  // transformers picks the pooled (EOS) position by argmax of the ids when this is the
  // legacy value 2, by the first occurrence of this id otherwise.
  int eos_token_id = 2;
  // CLIPTextModelWithProjection (SDXL text_encoder_2): adds text_projection.
  bool with_projection = false;

  int head_dim() const { return hidden_size / num_attention_heads; }

  bool operator==(const ClipTextConfig&) const = default;

  // `what` names the source in error messages (the file path).
  static ClipTextConfig parse(const io::Json& j, const std::string& what);
  static ClipTextConfig load(const std::string& path);
};

}  // namespace sd::models
