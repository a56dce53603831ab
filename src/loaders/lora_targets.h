#pragma once
// The layers a LoRA may change in one model set, and every name a LoRA file may use for
// them. Names are resolved by looking them up among the model's own module paths, never
// by guessing where a kohya-ss underscore stood for a dot: "lora_unet_down_blocks_0_
// attentions_0_proj_in" is the layer whose path, with '.' written as '_', reads that way.
// UNet layers are also known by their original LDM/SGM paths ("input_blocks.1.1.proj_in",
// "middle_block.0.in_layers.2"), which SDXL kohya-ss LoRAs use.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/clip_text_model.h"
#include "models/module_registry.h"
#include "models/unet_2d_condition.h"

namespace sd::models {

class LoraTargets {
 public:
  // Any model may be null (SD1/SD2 have no text_encoder_2). The models must outlive this.
  LoraTargets(UNet2DConditionModel* unet, ClipTextModel* text_encoder, ClipTextModel* text_encoder_2);

  struct Target {
    std::string component;  // "unet", "text_encoder", "text_encoder_2"
    std::string path;       // diffusers module path
    Shape weight_shape;
    std::optional<ModuleRef> module;  // a layer in memory
    // Else the text encoder that reads this layer from its files on every call
    // (ClipLayers::Streamed): a change is made as the layer is read.
    ClipTextModel* streamed_by = nullptr;
  };
  // The layer a LoRA layer name (as LoraLayer::name) denotes, or nullopt when this model
  // set has none by that name. Throws sd::Error when the name fits several layers.
  std::optional<Target> resolve(const std::string& lora_name) const;

 private:
  struct Component {
    std::string name;
    ModuleRegistry modules;
    std::map<std::string, Shape> streamed;                 // layers read per call: path -> weight shape
    ClipTextModel* streamed_by = nullptr;
    std::map<std::string, std::string> aliases;            // other dotted path -> module path
    std::map<std::string, std::vector<std::string>> flat;  // path or alias with '.' -> '_' -> module paths
  };
  void add_component(Component c);
  void add_text_encoder(const std::string& name, ClipTextModel& model);
  std::optional<Target> find_dotted(const Component& c, const std::string& path) const;

  std::vector<Component> components_;
};

// The LDM/SGM module path (inside "model.diffusion_model.") of each UNet layer, keyed by
// its diffusers path, as ldm_names.h places the layer's weight.
std::map<std::string, std::string> ldm_unet_module_paths(const ModuleRegistry& unet, const UNetConfig& config);

}  // namespace sd::models
