#include "models/clip_text_model.h"

#include <cstring>
#include <optional>

#include "core/cancellation.h"
#include "core/error.h"
#include "models/layers.h"

namespace sd::models {

CLIPEncoderLayer::CLIPEncoderLayer(const WeightSource& w, const std::string& prefix, const ClipTextConfig& c,
                                   DType dtype)
    : heads_(c.num_attention_heads), act_(c.hidden_act) {
  const int d = c.hidden_size;
  layer_norm1_ = load_layer_norm(w, join(prefix, "layer_norm1"), d, c.layer_norm_eps);
  q_proj_ = load_linear(w, join(prefix, "self_attn.q_proj"), d, d, true, dtype);
  k_proj_ = load_linear(w, join(prefix, "self_attn.k_proj"), d, d, true, dtype);
  v_proj_ = load_linear(w, join(prefix, "self_attn.v_proj"), d, d, true, dtype);
  out_proj_ = load_linear(w, join(prefix, "self_attn.out_proj"), d, d, true, dtype);
  layer_norm2_ = load_layer_norm(w, join(prefix, "layer_norm2"), d, c.layer_norm_eps);
  fc1_ = load_linear(w, join(prefix, "mlp.fc1"), d, c.intermediate_size, true, dtype);
  fc2_ = load_linear(w, join(prefix, "mlp.fc2"), c.intermediate_size, d, true, dtype);
}

Tensor CLIPEncoderLayer::forward(const Tensor& x) const {
  const Tensor n1 = layer_norm1_.forward(x);
  const Tensor attn = ops::attention(q_proj_.forward(n1), k_proj_.forward(n1), v_proj_.forward(n1), heads_,
                                     /*causal=*/true);
  const Tensor h = out_proj_.forward(attn, &x);
  return fc2_.forward(fc1_.forward(layer_norm2_.forward(h), nullptr, act_), &h);
}

void CLIPEncoderLayer::register_modules(ModuleRegistry& r, const std::string& prefix) {
  r.add(join(prefix, "self_attn.q_proj"), q_proj_);
  r.add(join(prefix, "self_attn.k_proj"), k_proj_);
  r.add(join(prefix, "self_attn.v_proj"), v_proj_);
  r.add(join(prefix, "self_attn.out_proj"), out_proj_);
  r.add(join(prefix, "mlp.fc1"), fc1_);
  r.add(join(prefix, "mlp.fc2"), fc2_);
}

ClipTextModel::ClipTextModel(const ClipTextConfig& config, const WeightSource& w, DType dtype)
    : config_(config), dtype_(dtype) {
  check_compute_dtype(dtype);
  load_outer(w);
  for (int i = 0; i < config_.num_hidden_layers; ++i) layers_.push_back(load_layer(w, i));
}

ClipTextModel::ClipTextModel(const ClipTextConfig& config, std::shared_ptr<const WeightSource> w, DType dtype)
    : config_(config), dtype_(dtype) {
  check_compute_dtype(dtype);
  load_outer(*w);
  // Each layer read once now, so a missing or misshapen tensor fails the load.
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    CLIPEncoderLayer layer = load_layer(*w, i);
    ModuleRegistry r;
    layer.register_modules(r, layer_path(i));
    for (const auto& [path, ref] : r.modules()) streamed_shapes_.emplace(path, ref.weight_shape());
  }
  source_ = std::move(w);
}

void ClipTextModel::load_outer(const WeightSource& w) {
  const ClipTextConfig& c = config_;
  token_embedding_ =
      w.get("text_model.embeddings.token_embedding.weight", Shape{c.vocab_size, c.hidden_size}, dtype_).contiguous();
  position_embedding_ = w.get("text_model.embeddings.position_embedding.weight",
                              Shape{c.max_position_embeddings, c.hidden_size}, dtype_)
                            .contiguous();
  final_layer_norm_ = load_layer_norm(w, "text_model.final_layer_norm", c.hidden_size, c.layer_norm_eps);
  if (c.with_projection)
    text_projection_ = load_linear(w, "text_projection", c.hidden_size, c.projection_dim, false, dtype_);
}

std::string ClipTextModel::layer_path(int index) { return "text_model.encoder.layers." + std::to_string(index); }

CLIPEncoderLayer ClipTextModel::load_layer(const WeightSource& w, int index) const {
  return CLIPEncoderLayer(w, layer_path(index), config_, dtype_);
}

uint64_t ClipTextModel::weight_bytes(const ClipTextConfig& c, DType dtype) {
  const uint64_t d = uint64_t(c.hidden_size), ff = uint64_t(c.intermediate_size);
  const uint64_t layer = 4 * (d * d + d) + (d * ff + ff) + (ff * d + d);
  const uint64_t embeddings = uint64_t(c.vocab_size + c.max_position_embeddings) * d;
  const uint64_t projection = c.with_projection ? d * uint64_t(c.projection_dim) : 0;
  const uint64_t norms = (2 * uint64_t(c.num_hidden_layers) + 1) * 2 * d * sizeof(float);
  return (uint64_t(c.num_hidden_layers) * layer + embeddings + projection) * dtype_size(dtype) + norms;
}

ModuleRegistry ClipTextModel::modules() {
  ModuleRegistry r;
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i].register_modules(r, layer_path(int(i)));
  r.add("text_projection", text_projection_);
  return r;
}

std::unique_ptr<ClipTextModel> ClipTextModel::load(const std::string& dir, DType dtype, ClipLayers layers) {
  return load(ClipTextConfig::load(dir + "/config.json"), dir, dtype, layers);
}

std::unique_ptr<ClipTextModel> ClipTextModel::load(const ClipTextConfig& config, const std::string& dir, DType dtype,
                                                   ClipLayers layers, std::optional<Device> prepare_on) {
  std::shared_ptr<SafetensorsWeights> weights = SafetensorsWeights::open_component(dir);
  if (prepare_on && layers == ClipLayers::Resident) weights->prepare_layers_on(*prepare_on);
  auto model = layers == ClipLayers::Streamed ? std::make_unique<ClipTextModel>(config, weights, dtype)
                                              : std::make_unique<ClipTextModel>(config, *weights, dtype);
  // position_ids is a buffer transformers saves with some checkpoints, not a weight.
  weights->require_all_used({"text_model.embeddings.position_ids"});
  return model;
}

namespace {

// The ids as int64 in row-major order.
std::vector<int64_t> ids_of(const Tensor& input_ids) {
  if (input_ids.dtype() != DType::I64 && input_ids.dtype() != DType::I32)
    throw Error("CLIP: input_ids must be int64 or int32, got " + input_ids.desc());
  const Tensor c = input_ids.contiguous();
  std::vector<int64_t> ids(size_t(c.numel()));
  if (c.dtype() == DType::I64) {
    std::memcpy(ids.data(), c.raw_data(), ids.size() * sizeof(int64_t));
  } else {
    const int32_t* p = c.data<int32_t>();
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = p[i];
  }
  return ids;
}

}  // namespace

Tensor ClipTextModel::embed(const Tensor& input_ids, const Tensor& extra_tokens) const {
  const int64_t batch = input_ids.size(0), len = input_ids.size(1);
  const std::vector<int64_t> ids = ids_of(input_ids);
  const int64_t d = config_.hidden_size;
  Tensor extra;
  if (extra_tokens.defined()) {
    if (extra_tokens.ndim() != 2 || extra_tokens.size(1) != d)
      throw Error("CLIP: extra token embeddings must be [N, " + std::to_string(d) + "], got " + extra_tokens.desc());
    extra = extra_tokens.to(Device::cpu()).to(dtype_).contiguous();
  }
  const int64_t id_end = config_.vocab_size + (extra.defined() ? extra.size(0) : 0);
  const size_t row_bytes = size_t(d) * dtype_size(dtype_);
  Tensor tokens = Tensor::empty(Shape{batch, len, d}, dtype_);
  auto* dst = static_cast<char*>(tokens.raw_data());
  const auto* table = static_cast<const char*>(token_embedding_.raw_data());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= id_end)
      throw Error("CLIP: token id " + std::to_string(ids[i]) + " is outside the vocabulary of " +
                  std::to_string(config_.vocab_size) + " and the " + std::to_string(id_end - config_.vocab_size) +
                  " added tokens");
    const char* row = ids[i] < config_.vocab_size
                          ? table + size_t(ids[i]) * row_bytes
                          : static_cast<const char*>(extra.raw_data()) + size_t(ids[i] - config_.vocab_size) * row_bytes;
    std::memcpy(dst + i * row_bytes, row, row_bytes);
  }
  return ops::add(tokens, position_embedding_.narrow(0, 0, len).unsqueeze(0)).to(device());
}

ClipTextOutput ClipTextModel::forward(const Tensor& input_ids, const Tensor& extra_tokens) const {
  return std::move(forward_each({input_ids}, extra_tokens).front());
}

std::vector<ClipTextOutput> ClipTextModel::forward_each(const std::vector<Tensor>& input_ids,
                                                        const Tensor& extra_tokens) const {
  for (const Tensor& ids : input_ids)
    if (ids.ndim() != 2 || ids.size(1) < 1 || ids.size(1) > config_.max_position_embeddings)
      throw Error("CLIP: input_ids must be [B, L] with 1 <= L <= " + std::to_string(config_.max_position_embeddings) +
                  ", got " + ids.desc());
  auto f32 = [](const Tensor& t) { return ops::to_dtype(t, DType::F32).contiguous(); };

  std::vector<ClipTextOutput> outs(input_ids.size());
  std::vector<Tensor> h(input_ids.size());
  for (size_t k = 0; k < input_ids.size(); ++k) {
    h[k] = embed(input_ids[k], extra_tokens);
    outs[k].hidden_states.push_back(f32(h[k]));
  }
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    check_cancelled();
    std::optional<CLIPEncoderLayer> streamed;
    if (source_) {
      streamed.emplace(load_layer(*source_, i));
      if (streamed_edit_) {
        ModuleRegistry r;
        streamed->register_modules(r, layer_path(i));
        streamed_edit_(r);
      }
    }
    const CLIPEncoderLayer& layer = source_ ? *streamed : layers_[size_t(i)];
    for (size_t k = 0; k < input_ids.size(); ++k) {
      h[k] = layer.forward(h[k]);
      outs[k].hidden_states.push_back(f32(h[k]));
    }
  }

  for (size_t k = 0; k < input_ids.size(); ++k) {
    ClipTextOutput& out = outs[k];
    out.last_hidden_state = f32(final_layer_norm_.forward(h[k]));
    // The EOS position of each row: argmax of the ids for the legacy eos_token_id 2 (the
    // EOS id is the largest in the CLIP vocabulary), else the first eos_token_id.
    const int64_t batch = input_ids[k].size(0), len = input_ids[k].size(1), d = config_.hidden_size;
    const std::vector<int64_t> ids = ids_of(input_ids[k]);
    out.pooled_output = Tensor::empty(Shape{batch, d}, DType::F32);
    const Tensor last_on_host = out.last_hidden_state.to(Device::cpu());
    const float* last = last_on_host.data<float>();
    float* pooled = out.pooled_output.data<float>();
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t* row = ids.data() + b * len;
      int64_t pos = 0;
      if (config_.eos_token_id == 2) {
        for (int64_t i = 1; i < len; ++i)
          if (row[i] > row[pos] && row[i] < config_.vocab_size) pos = i;
      } else {
        for (int64_t i = len - 1; i >= 0; --i)
          if (row[i] == config_.eos_token_id) pos = i;
      }
      std::memcpy(pooled + b * d, last + (b * len + pos) * d, size_t(d) * sizeof(float));
    }
    if (text_projection_.defined()) out.text_embeds = f32(text_projection_.forward(out.pooled_output.to(device())));
  }
  return outs;
}

Tensor ClipTextModel::final_layer_norm(const Tensor& hidden) const {
  return ops::to_dtype(final_layer_norm_.forward(hidden), DType::F32).contiguous();
}

}  // namespace sd::models
