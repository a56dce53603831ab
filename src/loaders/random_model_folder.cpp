#include "loaders/random_model_folder.h"

#include <filesystem>
#include <functional>

#include "core/error.h"
#include "io/safetensors.h"
#include "loaders/random_weights.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition.h"

namespace sd::pipeline {

namespace fs = std::filesystem;

namespace {

// Notes each tensor a model asks for and hands back uninitialised memory of its shape:
// the pages are never touched, so building a full-size model this way costs no resident
// memory and no time for values.
class RecordingWeights : public models::WeightSource {
 public:
  bool has(const std::string&) const override { return true; }
  std::string describe() const override { return "the tensor recorder"; }
  const std::vector<io::TensorSpec>& specs() const { return specs_; }

 protected:
  Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const override {
    specs_.push_back({name, DType::F32, shape});
    return Tensor::empty(shape, dtype);
  }

 private:
  mutable std::vector<io::TensorSpec> specs_;
};

void copy_configs(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  const fs::path index = from / "model_index.json";
  if (!fs::exists(index)) throw Error(from.string() + ": no model_index.json (not a diffusers config folder)");
  fs::copy_file(index, to / "model_index.json", fs::copy_options::overwrite_existing);
  for (const char* sub : {"unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"}) {
    if (!fs::is_directory(from / sub)) continue;
    fs::create_directories(to / sub);
    for (const auto& e : fs::directory_iterator(from / sub)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".json" || ext == ".txt"))
        fs::copy_file(e.path(), to / sub / e.path().filename(), fs::copy_options::overwrite_existing);
    }
  }
}

// Builds one component's model on the recorder (`build`), then streams the tensors it
// asked for into `dir/stem[.fp16].safetensors`.
void write_component(const fs::path& dir, const std::string& stem, uint64_t seed, FolderPrecision precision,
                     const std::function<void(const models::WeightSource&)>& build) {
  RecordingWeights recorder;
  build(recorder);
  std::vector<io::TensorSpec> specs = recorder.specs();
  const DType file_dtype = precision == FolderPrecision::Fp16 ? DType::F16 : DType::F32;
  for (auto& s : specs) s.dtype = file_dtype;
  const models::RandomWeights values(seed);
  const std::string name = stem + (precision == FolderPrecision::Fp16 ? ".fp16" : "") + ".safetensors";
  // A folder rewritten in the other precision must not keep the first one's file, which
  // the loader would prefer (full precision first).
  for (const char* variant : {"", ".fp16"}) fs::remove(dir / (stem + variant + ".safetensors"));
  io::write_safetensors_streamed((dir / name).string(), specs,
                                 [&](size_t i) { return values.get(specs[i].name, specs[i].shape, file_dtype); });
}

}  // namespace

void write_random_model_folder(const std::string& config_dir, const std::string& out_dir, uint64_t seed,
                               FolderPrecision precision) {
  const fs::path root(out_dir);
  try {
    copy_configs(config_dir, root);
  } catch (const fs::filesystem_error& e) {
    throw Error(std::string("cannot copy the configs: ") + e.what());
  }
  // The recorder's tensors are never read, so the compute dtype only sizes the untouched memory.
  const DType any = DType::BF16;
  for (const char* te : {"text_encoder", "text_encoder_2"}) {
    if (!fs::exists(root / te / "config.json")) continue;
    const auto cfg = models::ClipTextConfig::load((root / te / "config.json").string());
    write_component(root / te, "model", seed, precision,
                    [&](const models::WeightSource& w) { models::ClipTextModel model(cfg, w, any); });
  }
  const auto unet_cfg = models::UNetConfig::load((root / "unet" / "config.json").string());
  write_component(root / "unet", "diffusion_pytorch_model", seed, precision,
                  [&](const models::WeightSource& w) { models::UNet2DConditionModel model(unet_cfg, w, any); });
  const auto vae_cfg = models::VaeConfig::load((root / "vae" / "config.json").string());
  write_component(root / "vae", "diffusion_pytorch_model", seed, precision,
                  [&](const models::WeightSource& w) { models::AutoencoderKL model(vae_cfg, w, any); });
}

}  // namespace sd::pipeline
