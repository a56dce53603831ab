#include "models/clip_config.h"

#include "core/error.h"
#include "models/config_checks.h"

namespace sd::models {

using io::json_get;

ClipTextConfig ClipTextConfig::parse(const io::Json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": not a JSON object");
  require_supported(j, "model_type", {"clip_text_model"}, what);

  ClipTextConfig c;
  const auto archs = json_get<std::vector<std::string>>(j, "architectures", {}, what);
  for (const auto& a : archs) {
    if (a == "CLIPTextModelWithProjection") c.with_projection = true;
    else if (a != "CLIPTextModel")
      throw Error(what + ": \"architectures\" names \"" + a +
                  "\", which is not supported (CLIPTextModel, CLIPTextModelWithProjection)");
  }
  c.vocab_size = require_positive(json_get(j, "vocab_size", c.vocab_size, what), "vocab_size", what);
  c.hidden_size = require_positive(json_get(j, "hidden_size", c.hidden_size, what), "hidden_size", what);
  c.intermediate_size =
      require_positive(json_get(j, "intermediate_size", c.intermediate_size, what), "intermediate_size", what);
  c.num_hidden_layers =
      require_positive(json_get(j, "num_hidden_layers", c.num_hidden_layers, what), "num_hidden_layers", what);
  c.num_attention_heads = require_positive(
      json_get(j, "num_attention_heads", c.num_attention_heads, what), "num_attention_heads", what);
  c.max_position_embeddings = require_positive(
      json_get(j, "max_position_embeddings", c.max_position_embeddings, what), "max_position_embeddings", what);
  c.layer_norm_eps = json_get(j, "layer_norm_eps", c.layer_norm_eps, what);
  c.projection_dim = require_positive(json_get(j, "projection_dim", c.projection_dim, what), "projection_dim", what);
  c.eos_token_id = json_get(j, "eos_token_id", c.eos_token_id, what);

  const std::string act = json_get<std::string>(j, "hidden_act", "quick_gelu", what);
  if (act == "quick_gelu") c.hidden_act = ops::Activation::QuickGELU;
  else if (act == "gelu") c.hidden_act = ops::Activation::GELU;
  else throw Error(what + ": \"hidden_act\" = \"" + act + "\" is not supported (quick_gelu, gelu)");

  if (c.hidden_size % c.num_attention_heads != 0)
    throw Error(what + ": hidden_size " + std::to_string(c.hidden_size) +
                " is not divisible by num_attention_heads " + std::to_string(c.num_attention_heads));
  return c;
}

ClipTextConfig ClipTextConfig::load(const std::string& path) {
  return parse(io::read_json_file(path), path);
}

}  // namespace sd::models
