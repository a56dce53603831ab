// LoRA files as a job would bring them: the file read into layers (kohya-ss, diffusers,
// PEFT names; pairs, ranks, alphas, dtypes), each layer name resolved against the tiny
// SD1.5 UNet and text encoder, and the whole file merged into them and undone.
#include <memory>

#include "core/error.h"
#include "core/log.h"
#include "fuzz_support.h"
#include "models/clip_text_model.h"
#include "loaders/lora_file.h"
#include "loaders/lora_merge.h"
#include "loaders/lora_targets.h"
#include "models/unet_2d_condition.h"

namespace {

std::unique_ptr<sd::models::UNet2DConditionModel> unet;
std::unique_ptr<sd::models::ClipTextModel> text_encoder;
std::unique_ptr<sd::models::LoraTargets> targets;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sd::set_log_level(sd::LogLevel::Error);  // unmatched layers are warnings, one per run
  const std::string model = sd::fuzz::fixtures_dir() + "/tiny-sd15";
  unet = sd::models::UNet2DConditionModel::load(model + "/unet");
  text_encoder = sd::models::ClipTextModel::load(model + "/text_encoder");
  targets = std::make_unique<sd::models::LoraTargets>(unet.get(), text_encoder.get(), nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sd::fuzz::MemoryFile file(data, size);
  std::shared_ptr<const sd::models::LoraFile> lora;
  try {
    lora = sd::models::LoraFile::open(file.path());
  } catch (const sd::Error&) {
    return 0;
  }
  for (const auto& layer : lora->layers()) {
    try {
      targets->resolve(layer.name);
    } catch (const sd::Error&) {
      // a name that fits several layers
    }
  }
  try {
    sd::models::LoraPatch patch(*targets, {{lora, 0.8f}});
  } catch (const sd::Error&) {
  }
  return 0;
}
