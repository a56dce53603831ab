#pragma once
// transformers CLIPTextModel / CLIPTextModelWithProjection (models/clip/modeling_clip.py):
// token + position embeddings, pre-norm causal transformer layers, final LayerNorm, the
// pooled EOS feature and, with projection, text_embeds.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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

// Where the encoder layers' weights live between calls.
enum class ClipLayers {
  Resident,  // loaded once and kept
  // Read from the weight source again on every forward call, one layer at a time, so only
  // one layer's weights are ever in memory: for a model set whose weights together would
  // not fit in the memory given (SDXL's text encoders are 1.6 GB in bf16). Loading still
  // reads and checks every layer once, so a bad file fails at load either way.
  Streamed,
};

class ClipTextModel {
 public:
  // Loads text_projection when the config is CLIPTextModelWithProjection.
  ClipTextModel(const ClipTextConfig& config, const WeightSource& weights, DType dtype = DType::F32);
  // Streamed layers: the model keeps `weights` and reads its layers from it on each call.
  ClipTextModel(const ClipTextConfig& config, std::shared_ptr<const WeightSource> weights, DType dtype);
  // Reads <dir>/config.json and the weights of the folder <dir> (e.g. model/text_encoder_2).
  static std::unique_ptr<ClipTextModel> load(const std::string& dir, DType dtype = DType::F32,
                                             ClipLayers layers = ClipLayers::Resident);
  // The same with the folder's config already read (a loader that decided on it).
  // prepare_on: resident layers are prepared on that device as their weights are read
  // (WeightSource::prepare_layers_on).
  static std::unique_ptr<ClipTextModel> load(const ClipTextConfig& config, const std::string& dir, DType dtype,
                                             ClipLayers layers, std::optional<Device> prepare_on = std::nullopt);

  // input_ids [B, L] int64 or int32, L <= max_position_embeddings. All outputs float32
  // contiguous. No attention mask beyond the causal one, as the SD pipelines call it.
  // extra_tokens [N, hidden] (optional): the embeddings of ids vocab_size .. vocab_size+N-1,
  // tokens added for this call (textual inversion); they never count as the EOS.
  ClipTextOutput forward(const Tensor& input_ids, const Tensor& extra_tokens = {}) const;
  // forward() of each input, computed layer by layer across the inputs (streamed layers
  // are read once for all of them); each output is what forward() gives for its input.
  std::vector<ClipTextOutput> forward_each(const std::vector<Tensor>& input_ids, const Tensor& extra_tokens = {}) const;
  // final_layer_norm applied to any hidden state (diffusers' clip_skip), float32 out.
  Tensor final_layer_norm(const Tensor& hidden) const;
  // Every Linear by transformers path ("text_model.encoder.layers.0.self_attn.q_proj",
  // "text_projection"), for replacing weights in place (LoRA). Streamed layers are not in
  // memory to replace: only text_projection is listed then (see streamed_modules()).
  ModuleRegistry modules();
  // Streamed layers only: each layer's Linears by transformers path, with their weight
  // shapes (as modules() lists them for resident layers), and an edit run on every layer as
  // it is read for a call, before the layer runs, with its modules by those paths: how a
  // LoRA changes layers that are not in memory between calls. Null: no edit.
  const std::map<std::string, Shape>& streamed_modules() const { return streamed_shapes_; }
  using LayerEdit = std::function<void(const ModuleRegistry&)>;
  void set_streamed_layer_edit(LayerEdit edit) { streamed_edit_ = std::move(edit); }
  ClipLayers layers() const { return source_ ? ClipLayers::Streamed : ClipLayers::Resident; }
  // Bytes of all the weights in `dtype`, as loading keeps them with resident layers.
  static uint64_t weight_bytes(const ClipTextConfig& config, DType dtype);

  const ClipTextConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }
  // Where the encoder runs: its layers' device (loading places them). The token lookup and
  // the pooled output's gather stay on the host; hidden states are on this device.
  Device device() const { return source_ ? Device::cpu() : layers_.front().device(); }

 private:
  // Everything but the encoder layers.
  void load_outer(const WeightSource& w);
  CLIPEncoderLayer load_layer(const WeightSource& w, int index) const;
  static std::string layer_path(int index);
  Tensor embed(const Tensor& input_ids, const Tensor& extra_tokens) const;

  ClipTextConfig config_;
  DType dtype_;
  Tensor token_embedding_;     // [vocab, hidden], compute dtype
  Tensor position_embedding_;  // [max_positions, hidden], compute dtype
  std::vector<CLIPEncoderLayer> layers_;         // resident layers
  std::shared_ptr<const WeightSource> source_;  // streamed layers' weights
  std::map<std::string, Shape> streamed_shapes_;
  LayerEdit streamed_edit_;
  ops::LayerNorm final_layer_norm_;
  ops::Linear text_projection_;  // no bias
};

}  // namespace sd::models
