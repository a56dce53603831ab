#pragma once
// The layers with weights of a loaded model, by diffusers module path
// ("mid_block.attentions.0.proj_in", "text_model.encoder.layers.0.self_attn.q_proj"), so
// that code outside the model can replace their weights after loading (LoRA merging)
// without reloading anything. This is the one place where the models' private layers
// are reachable by name, as torch's named_modules() makes them.
#include <map>
#include <string>

#include "ops/ops.h"

namespace sd::models {

// One Linear or Conv2d inside a model. A reference: valid while the model lives.
class ModuleRef {
 public:
  explicit ModuleRef(ops::Linear& m) : linear_(&m) {}
  explicit ModuleRef(ops::Conv2d& m) : conv_(&m) {}

  bool is_conv() const { return conv_ != nullptr; }
  // The weight in the model's compute dtype: [O, I] or [O, I, kh, kw].
  const Tensor& weight() const { return conv_ ? conv_->weight() : linear_->weight(); }
  // The weight's shape, without rebuilding a weight the backend keeps in its own layout.
  const Shape& weight_shape() const { return conv_ ? conv_->weight_shape() : linear_->weight_shape(); }
  // Replaces the weight (same shape; any float dtype is converted by the caller first).
  void set_weight(Tensor w) const {
    if (conv_) conv_->set_weight(std::move(w));
    else linear_->set_weight(std::move(w));
  }
  // Prepares the layer on `device` (its weight uploaded once), see ops::Conv2d::to.
  void to(Device device) const {
    if (conv_) conv_->to(device);
    else linear_->to(device);
  }
  bool prepared() const { return conv_ ? conv_->prepared() : linear_->prepared(); }

 private:
  ops::Linear* linear_ = nullptr;
  ops::Conv2d* conv_ = nullptr;
};

class ModuleRegistry {
 public:
  // Layers without weights (an absent conv_shortcut, the unused projection variant) are
  // left out, so the registry holds exactly the layers the weight file has.
  void add(const std::string& path, ops::Linear& m);
  void add(const std::string& path, ops::Conv2d& m);

  // nullptr when no layer has that path.
  const ModuleRef* find(const std::string& path) const;
  const std::map<std::string, ModuleRef>& modules() const { return modules_; }

 private:
  void insert(const std::string& path, ModuleRef ref);

  std::map<std::string, ModuleRef> modules_;
};

}  // namespace sd::models
