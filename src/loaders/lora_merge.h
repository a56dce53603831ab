#pragma once
// Merging LoRAs into a loaded model for the length of one job:
//   W <- W + sum over LoRAs and their layers of strength * scale * (up @ down)
// computed in float32 and stored in the layer's compute dtype. Undoing it by subtraction
// would not give the original back once the sum was rounded to bf16, so the original
// weights of the touched layers (only those) are kept and put back. The layers of a text
// encoder that streams them are merged as each call reads them, until the patch ends.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loaders/lora_file.h"
#include "loaders/lora_targets.h"

namespace sd::models {

struct LoraUse {
  std::shared_ptr<const LoraFile> file;
  float strength = 1.f;  // within [-10, 10]
};

// The merged state of a model set; the destructor (or restore()) undoes it.
class LoraPatch {
 public:
  LoraPatch() = default;
  // Checks every layer of every file against the model first and throws sd::Error
  // naming the file and the tensor with the model untouched when one does not fit (wrong
  // shape, strength out of range, or a file none of whose layers names a layer of this
  // model). Layers that name nothing in the model are skipped with a warning as long as
  // some layer of the file matches: LoRA trainers add layers some checkpoints lack.
  LoraPatch(const LoraTargets& targets, const std::vector<LoraUse>& loras);
  ~LoraPatch() { restore(); }
  LoraPatch(LoraPatch&& o) noexcept : saved_(std::move(o.saved_)), edited_(std::move(o.edited_)), stats_(o.stats_) {
    o.saved_.clear();
    o.edited_.clear();
  }
  LoraPatch& operator=(LoraPatch&& o) noexcept;
  LoraPatch(const LoraPatch&) = delete;
  LoraPatch& operator=(const LoraPatch&) = delete;

  // Puts the original weights back; a second call does nothing.
  void restore();

  struct Stats {
    int layers_applied = 0;    // LoRA layers merged, over all files
    int layers_unmatched = 0;  // LoRA layers naming no layer of the model (skipped)
    int modules_changed = 0;   // model layers whose weight changed
  };
  const Stats& stats() const { return stats_; }

 private:
  std::vector<std::pair<ModuleRef, Tensor>> saved_;  // layer, original weight
  std::vector<ClipTextModel*> edited_;               // streamed encoders merging as they read
  Stats stats_;
};

}  // namespace sd::models
