#pragma once
// A LoRA file read into its low-rank layers, independent of any model. Understood
// layouts (per layer; several may be mixed in one file):
//   kohya-ss / A1111:    lora_unet_<path with '_'>.{lora_down.weight, lora_up.weight, alpha}
//                        (also lora_te_, lora_te1_, lora_te2_; LoCon conv layers with
//                        down [r, in, kh, kw] and up [out, r, 1, 1])
//   diffusers / PEFT:    [base_model.model.][unet.|text_encoder.|text_encoder_2.]<path>.lora_A.weight / lora_B.weight
//   older diffusers:     <path>.lora.down.weight / lora.up.weight,
//                        <path>.lora_linear_layer.down.weight / up.weight,
//                        <attention>.processor.to_q_lora.down.weight / up.weight (attention processors)
// The scale of a layer is alpha / rank. Without an alpha (PEFT files keep it in their
// config, not in the weights) it is the `lora_alpha` of diffusers' `lora_adapter_metadata`
// when the file has one, else 1. An alpha of 0 means rank, as kohya-ss reads it.
// Which model layer a name denotes is decided against the model (see lora_targets.h).
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sd::models {

struct LoraLayer {
  std::string name;      // the layer's name in the file without the tensor suffix
  std::string down_key;  // full tensor names, for messages
  std::string up_key;
  Tensor down;        // [r, in] or [r, in, kh, kw], as stored
  Tensor up;          // [out, r] or [out, r, 1, 1]
  float scale = 1.f;  // alpha / rank (alpha / sqrt(rank) for rank-stabilised PEFT files)
  int64_t rank() const { return down.size(0); }
};

class LoraFile {
 public:
  // Reads and checks the structure (names, pairs, ranks, dtypes, alphas). Throws
  // sd::Error naming the file and the tensor for anything it cannot use: a LyCORIS type
  // other than LoRA/LoCon (LoHa, LoKr, Tucker mid, DoRA, full diffs), a down without an
  // up, mismatched ranks, a non-float tensor.
  static std::shared_ptr<const LoraFile> open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<LoraLayer>& layers() const { return layers_; }
  // Textual-inversion embeddings bundled by kohya-ss ("bundle_emb.*"): not applied.
  int ignored_embeddings() const { return ignored_embeddings_; }

 private:
  std::string path_;
  std::vector<LoraLayer> layers_;
  int ignored_embeddings_ = 0;
};

// Parsed LoRA files by path, so a LoRA used job after job is read once. A file whose
// size or modification time changed is read again. One per pipeline, not thread-safe.
class LoraFileCache {
 public:
  explicit LoraFileCache(size_t capacity = 8) : capacity_(capacity) {}
  std::shared_ptr<const LoraFile> get(const std::string& path);

 private:
  struct Entry {
    std::string path;
    uintmax_t size = 0;
    int64_t mtime = 0;
    std::shared_ptr<const LoraFile> file;
  };
  size_t capacity_;
  std::list<Entry> entries_;  // most recently used first
};

}  // namespace sd::models
