#include "loaders/lora_merge.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "core/number_text.h"

namespace sd::models {

namespace {

constexpr float kMaxStrength = 10.f;

// Why the product up @ down cannot be added to a weight of shape `w` ("" when it can):
// down [r, in] or [r, in, kh, kw] and up [out, r] or [out, r, 1, 1], where a 1x1 conv and
// a Linear take the same pair.
std::string misfit(const LoraLayer& l, const Shape& w) {
  const int64_t kh = w.size() == 4 ? w[2] : 1, kw = w.size() == 4 ? w[3] : 1;
  const Shape& d = l.down.shape();
  const int64_t dkh = d.size() == 4 ? d[2] : 1, dkw = d.size() == 4 ? d[3] : 1;
  if (l.up.size(0) != w[0])
    return "up has " + std::to_string(l.up.size(0)) + " outputs, the layer " + std::to_string(w[0]);
  if (d[1] != w[1]) return "down has " + std::to_string(d[1]) + " inputs, the layer " + std::to_string(w[1]);
  if (dkh != kh || dkw != kw)
    return "down has a " + std::to_string(dkh) + "x" + std::to_string(dkw) + " kernel, the layer " +
           std::to_string(kh) + "x" + std::to_string(kw);
  return "";
}

// acc + factor * (up @ down), reshaped to acc's shape; acc is [out, ...] float32, down
// [r, ...] and up [out, r, ...]. One matmul on the ops: rows factor*up times down, with
// acc as the residual.
Tensor add_low_rank(const Tensor& acc, const LoraLayer& l, float factor) {
  const int64_t out = acc.size(0), n = acc.numel() / out, rank = l.rank();
  const Tensor up = ops::scale(l.up.to(DType::F32).contiguous().reshape(Shape{out, rank}), factor);
  const Tensor down_t = l.down.to(DType::F32).contiguous().reshape(Shape{rank, n}).permute({1, 0}).contiguous();
  const ops::Linear product(down_t, Tensor());
  const Tensor residual = acc.reshape(Shape{out, n});
  return product.forward(up, &residual).reshape(acc.shape());
}

struct Contribution {
  std::shared_ptr<const LoraFile> file;  // holds `layer`
  const LoraLayer* layer;
  float factor;  // strength * scale
};

struct ModuleChange {
  LoraTargets::Target target;
  std::vector<Contribution> parts;
};

// The weight with every part added, in float32, stored back in the weight's dtype.
Tensor merged_weight(const Tensor& original, const std::vector<Contribution>& parts) {
  Tensor acc = ops::to_dtype(original, DType::F32).contiguous();  // read only: each sum is a new tensor
  for (const Contribution& c : parts) acc = add_low_rank(acc, *c.layer, c.factor);
  return ops::to_dtype(acc, original.dtype());
}

}  // namespace

LoraPatch::LoraPatch(const LoraTargets& targets, const std::vector<LoraUse>& loras) {
  // 1. Resolve and check everything; nothing is changed until all of it fits.
  std::map<std::string, ModuleChange> changes;  // by component.path
  for (const LoraUse& use : loras) {
    SD_CHECK(use.file != nullptr, "LoRA use without a file");
    const LoraFile& file = *use.file;
    if (!std::isfinite(use.strength) || std::fabs(use.strength) > kMaxStrength)
      throw Error(file.path() + ": LoRA strength must be within [-10, 10], got " + number_text(use.strength));
    std::vector<const LoraLayer*> unmatched;
    for (const LoraLayer& layer : file.layers()) {
      std::optional<LoraTargets::Target> target;
      try {
        target = targets.resolve(layer.name);
      } catch (const Error& e) {
        throw Error(file.path() + ": " + e.what());
      }
      if (!target) {
        unmatched.push_back(&layer);
        continue;
      }
      const Shape& weight_shape = target->weight_shape;
      const std::string why = misfit(layer, weight_shape);
      if (!why.empty())
        throw Error(file.path() + ": LoRA layer \"" + layer.name + "\" (down \"" + layer.down_key + "\" " +
                    layer.down.desc() + ", up \"" + layer.up_key + "\" " + layer.up.desc() + ") does not fit " +
                    target->component + " layer \"" + target->path + "\" with weight " + weight_shape.str() + ": " +
                    why + "; is it a LoRA for another model?");
      auto it = changes.try_emplace(target->component + "." + target->path, ModuleChange{*target, {}}).first;
      it->second.parts.push_back({use.file, &layer, use.strength * layer.scale});
      ++stats_.layers_applied;
    }
    if (!unmatched.empty() && unmatched.size() == file.layers().size())
      throw Error(file.path() + ": none of its " + std::to_string(unmatched.size()) +
                  " LoRA layers names a layer of this model (the first is \"" + unmatched.front()->name +
                  "\"); is it a LoRA for another model?");
    if (!unmatched.empty())
      log_warn(file.path() + ": " + std::to_string(unmatched.size()) + " of " + std::to_string(file.layers().size()) +
               " LoRA layers name no layer of this model and are skipped (the first is \"" + unmatched.front()->name +
               "\")");
    stats_.layers_unmatched += int(unmatched.size());
    if (file.ignored_embeddings() > 0)
      log_warn(file.path() + ": " + std::to_string(file.ignored_embeddings()) +
               " bundled textual-inversion embeddings are not applied");
  }

  // 2. Compute every merged weight of the layers in memory, still without touching the
  // model. Streamed layers are merged the same way as each call reads them.
  std::vector<std::pair<ModuleRef, Tensor>> merged;
  std::vector<std::pair<ModuleRef, Tensor>> originals;
  std::map<ClipTextModel*, std::map<std::string, std::vector<Contribution>>> streamed;
  for (auto& [name, change] : changes) {
    if (!change.target.module) {
      streamed[change.target.streamed_by][change.target.path] = std::move(change.parts);
      continue;
    }
    const ModuleRef& module = *change.target.module;
    const Tensor original = module.weight();
    merged.emplace_back(module, merged_weight(original, change.parts));
    originals.emplace_back(module, original);
  }

  // 3. Swap them in.
  for (auto& [module, weight] : merged) module.set_weight(std::move(weight));
  saved_ = std::move(originals);
  stats_.modules_changed = int(saved_.size());
  for (auto& [model, by_path] : streamed) {
    stats_.modules_changed += int(by_path.size());
    model->set_streamed_layer_edit([by_path = std::move(by_path)](const ModuleRegistry& layer) {
      for (const auto& [path, parts] : by_path)
        if (const ModuleRef* m = layer.find(path)) m->set_weight(merged_weight(m->weight(), parts));
    });
    edited_.push_back(model);
  }
}

LoraPatch& LoraPatch::operator=(LoraPatch&& o) noexcept {
  if (this != &o) {
    restore();
    saved_ = std::move(o.saved_);
    o.saved_.clear();
    edited_ = std::move(o.edited_);
    o.edited_.clear();
    stats_ = o.stats_;
  }
  return *this;
}

void LoraPatch::restore() {
  for (auto& [module, weight] : saved_) module.set_weight(std::move(weight));
  saved_.clear();
  for (ClipTextModel* model : edited_) model->set_streamed_layer_edit(nullptr);
  edited_.clear();
}

}  // namespace sd::models
