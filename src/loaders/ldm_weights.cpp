#include "loaders/ldm_weights.h"

#include <algorithm>

#include "core/error.h"

namespace sd::models {

namespace {

// Same numbers, differing only by trailing 1s: [C,C,1,1] vs [C,C] (an attention
// projection stored as a 1x1 conv, or the reverse).
bool differs_by_trailing_ones(const Shape& a, const Shape& b) {
  const Shape& longer = a.size() >= b.size() ? a : b;
  const Shape& shorter = a.size() >= b.size() ? b : a;
  if (longer.size() == shorter.size()) return false;
  for (int i = 0; i < longer.size(); ++i)
    if (i < shorter.size() ? longer[i] != shorter[i] : longer[i] != 1) return false;
  return true;
}

}  // namespace

LdmLayout detect_ldm_layout(const io::SafetensorsFile& f) {
  const std::string conv_in = std::string(kLdmUnetPrefix) + "input_blocks.0.0.weight";
  if (!f.contains(conv_in))
    throw Error(f.path() + ": not a Stable Diffusion checkpoint in the original (LDM) naming: it has no \"" + conv_in +
                "\"");
  const Shape& s = f.info(conv_in).shape;
  if (s.size() != 4) throw Error(f.path() + ": \"" + conv_in + "\" has shape " + s.str() + ", not a conv kernel");

  auto has = [&](const char* prefix, const char* rest) { return f.contains(std::string(prefix) + rest); };
  LdmLayout layout{LdmTextEncoders::Clip, int(s[1])};
  if (has(kLdmSdxlOpenClipPrefix, "token_embedding.weight")) {
    if (!has(kLdmSdxlClipPrefix, "text_model.embeddings.token_embedding.weight"))
      throw Error(f.path() + ": an SDXL checkpoint without its first text encoder (" + kLdmSdxlClipPrefix + "*)");
    layout.text_encoders = LdmTextEncoders::ClipAndOpenClip;
  } else if (f.contains("conditioner.embedders.0.model.token_embedding.weight")) {
    throw Error(f.path() + ": an SDXL refiner checkpoint (one OpenCLIP text encoder); refiners are not supported");
  } else if (has(kLdmSd2OpenClipPrefix, "token_embedding.weight")) {
    layout.text_encoders = LdmTextEncoders::OpenClip;
  } else if (!has(kLdmSd1ClipPrefix, "text_model.embeddings.token_embedding.weight")) {
    throw Error(f.path() + ": no text encoder found (looked for " + kLdmSd1ClipPrefix + "text_model.*, " +
                kLdmSd2OpenClipPrefix + "*, " + kLdmSdxlOpenClipPrefix + "*)");
  }
  return layout;
}

LdmWeights::LdmWeights(std::shared_ptr<const io::SafetensorsFile> file, std::string prefix, std::string component,
                       Translate translate, Ignorable ignorable)
    : file_(std::move(file)),
      prefix_(std::move(prefix)),
      component_(std::move(component)),
      translate_(std::move(translate)),
      ignorable_(std::move(ignorable)) {}

bool LdmWeights::has(const std::string& name) const {
  const auto t = translate_(name);
  return t && file_->contains(t->name);
}

std::string LdmWeights::describe() const { return file_->path() + " (" + component_ + ")"; }

Tensor LdmWeights::fetch(const std::string& name, const Shape& shape, DType dtype) const {
  const auto t = translate_(name);
  if (!t || !file_->contains(t->name)) return {};
  const io::TensorInfo& info = file_->info(t->name);
  const std::string what = file_->path() + ": tensor \"" + t->name + "\" (" + component_ + " \"" + name + "\")";
  if (!info.dtype)
    throw Error(what + " has dtype " + info.dtype_name + ", which cannot be converted to " +
                std::string(dtype_name(dtype)));
  Tensor v;
  if (t->qkv_chunk >= 0) {
    // Only this projection's third is read, not the fused matrix once for each of q, k, v.
    if (info.shape.size() < 1 || info.shape[0] % 3 != 0)
      throw Error(what + " has shape " + info.shape.str() + ", not a fused q/k/v projection (rows divisible by 3)");
    const int64_t rows = info.shape[0] / 3;
    v = file_->view_rows(t->name, t->qkv_chunk * rows, rows);
  } else {
    v = file_->view(t->name);
  }
  if (t->transpose) {
    if (v.ndim() != 2) throw Error(what + " has shape " + v.shape().str() + ", not a matrix");
    v = v.permute({1, 0});
  }
  if (v.shape() != shape && differs_by_trailing_ones(v.shape(), shape)) v = v.contiguous().reshape(shape);
  if (v.shape() != shape)
    throw Error(what + " has shape " + v.shape().str() + ", the model config expects " + shape.str());
  fetched_.insert(t->name);
  Tensor out = v.to(dtype);
  return out.is_contiguous() ? out : out.contiguous();
}

std::optional<WeightRows> LdmWeights::rows(const std::string& name, const Shape& shape, DType dtype) const {
  const auto t = translate_(name);
  if (!t || t->transpose || !file_->contains(t->name)) return std::nullopt;
  const io::TensorInfo& info = file_->info(t->name);
  if (!info.dtype || info.shape.size() < 1) return std::nullopt;
  Shape stored = info.shape;
  int64_t first = 0;
  if (t->qkv_chunk >= 0) {
    if (stored[0] % 3 != 0) return std::nullopt;
    stored[0] /= 3;
    first = t->qkv_chunk * stored[0];
  }
  // Trailing 1x1 dims change no row's bytes.
  if (stored != shape && !differs_by_trailing_ones(stored, shape)) return std::nullopt;
  fetched_.insert(t->name);
  const auto read = [file = file_, stored_name = t->name, first, dtype](int64_t row, int64_t count, void* dst) {
    file->read_rows(stored_name, first + row, count, dtype, dst);
  };
  return WeightRows{shape, dtype, read, layers_arena()};
}

void LdmWeights::require_all_used() const {
  std::vector<std::string> unused;
  for (const auto& key : file_->names())
    if (key.compare(0, prefix_.size(), prefix_) == 0 && !fetched_.count(key) &&
        !(ignorable_ && ignorable_(key.substr(prefix_.size()))))
      unused.push_back(key);
  if (unused.empty()) return;
  std::string examples;
  for (size_t i = 0; i < unused.size() && i < 3; ++i) examples += (i ? ", " : "") + unused[i];
  throw Error(describe() + ": " + std::to_string(unused.size()) +
              " tensors are not part of the model its config describes (e.g. " + examples +
              "); the config does not match the checkpoint");
}

std::unique_ptr<LdmWeights> ldm_unet_weights(std::shared_ptr<const io::SafetensorsFile> file, const UNetConfig& c) {
  return std::make_unique<LdmWeights>(
      std::move(file), kLdmUnetPrefix, "unet", [c](const std::string& n) { return ldm_unet_tensor(c, n); }, nullptr);
}

std::unique_ptr<LdmWeights> ldm_vae_weights(std::shared_ptr<const io::SafetensorsFile> file, const VaeConfig& c,
                                            const std::string& prefix) {
  const std::string checkpoint_prefix = kLdmVaePrefix;
  return std::make_unique<LdmWeights>(
      std::move(file), prefix, "vae",
      [c, prefix, checkpoint_prefix](const std::string& n) {
        auto t = ldm_vae_tensor(c, n);
        if (t) t->name = prefix + t->name.substr(checkpoint_prefix.size());
        return t;
      },
      [](const std::string& key) {
        // What A1111 leaves out of a VAE file: its training loss modules and EMA counters.
        return key.compare(0, 5, "loss.") == 0 || key == "model_ema.decay" || key == "model_ema.num_updates";
      });
}

std::unique_ptr<LdmWeights> ldm_clip_weights(std::shared_ptr<const io::SafetensorsFile> file,
                                             const std::string& prefix) {
  return std::make_unique<LdmWeights>(
      std::move(file), prefix, "CLIP text encoder",
      [prefix](const std::string& n) { return ldm_clip_tensor(prefix, n); },
      // A buffer transformers saved with older checkpoints, not a weight.
      [](const std::string& key) { return key == "text_model.embeddings.position_ids"; });
}

std::unique_ptr<LdmWeights> ldm_open_clip_weights(std::shared_ptr<const io::SafetensorsFile> file,
                                                  const std::string& prefix, const ClipTextConfig& c) {
  const int layers = c.num_hidden_layers;
  const bool projection = c.with_projection;
  return std::make_unique<LdmWeights>(
      std::move(file), prefix, "OpenCLIP text encoder",
      [prefix](const std::string& n) { return ldm_open_clip_tensor(prefix, n); },
      [layers, projection](const std::string& key) {
        if (key == "logit_scale") return true;  // the contrastive loss temperature
        if (key == "text_projection") return !projection;
        // Layers past the configured count: SD2 conditions on the penultimate layer.
        const std::string blocks = "transformer.resblocks.";
        if (key.compare(0, blocks.size(), blocks) != 0) return false;
        const size_t end = key.find('.', blocks.size());
        const std::string index = key.substr(blocks.size(), end - blocks.size());
        const bool number = !index.empty() && index.size() <= 6 &&
                            std::all_of(index.begin(), index.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        return number && std::stoi(index) >= layers;
      });
}

}  // namespace sd::models
