// Loading an LDM single-file checkpoint (see load_single_file in model_set.h).
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "loaders/ldm_weights.h"
#include "loaders/builtin_configs.h"
#include "loaders/device_placement.h"
#include "loaders/model_set.h"
#include "loaders/model_tokenizer.h"

namespace sd::pipeline {

namespace fs = std::filesystem;

namespace {

using models::LdmTextEncoders;

const VersionDefaults& version_named(const std::string& name) {
  for (const auto& v : all_versions())
    if (v.name == name) return v;
  throw Error("unknown version " + name);
}

bool same_architecture(const VersionDefaults& a, const VersionDefaults& b) {
  return a.family == b.family && a.inpaint == b.inpaint;
}

std::string family_name(Family f) {
  switch (f) {
    case Family::SD1:
      return "SD1.x";
    case Family::SD2:
      return "SD2.x";
    case Family::SDXL:
      break;
  }
  return "SDXL";
}

std::string architecture(const VersionDefaults& v) { return family_name(v.family) + (v.inpaint ? " inpainting" : ""); }

// The configs in one place, wherever they come from.
struct Configs {
  VersionDefaults version;
  io::Json unet, vae, text_encoder, text_encoder_2, scheduler;
  bool force_zeros_for_empty_prompt = false;
  std::string origin;  // for messages: "built-in v1-5" or the --config folder
};

Configs configs_from_folder(const LoadOptions& opt, const VersionDefaults& shown) {
  FolderConfigs f = read_folder_configs(opt.config_dir);
  Configs c{detect_version(f.evidence),
            std::move(f.evidence.unet),
            std::move(f.vae),
            std::move(f.evidence.text_encoder),
            std::move(f.text_encoder_2),
            std::move(f.evidence.scheduler),
            f.force_zeros_for_empty_prompt,
            opt.config_dir};
  if (!same_architecture(c.version, shown))
    throw Error(opt.model_path + ": the checkpoint's weights are an " + architecture(shown) + " model, but --config " +
                opt.config_dir + " describes " + c.version.name + " (" + architecture(c.version) + ")");
  if (!opt.sd_version.empty()) {
    const auto want = find_version(opt.sd_version);
    if (!want) throw Error("unknown --sd-version \"" + opt.sd_version + "\"");
    if (want->name != c.version.name)
      throw Error(opt.model_path + ": the configs in " + opt.config_dir + " describe version " + c.version.name +
                  ", not the requested " + want->name);
  }
  return c;
}

Configs builtin_configs_of(const VersionDefaults& version) {
  BuiltinConfigs b = builtin_configs(version.name);
  return {version,
          std::move(b.unet),
          std::move(b.vae),
          std::move(b.text_encoder),
          std::move(b.text_encoder_2),
          std::move(b.scheduler),
          b.force_zeros_for_empty_prompt,
          "built-in " + version.name};
}

// From --config's folder when given, else the version's built-in configs; the vocabulary
// from --tokenizer-dir, that folder, or built in.
void load_tokenizers(ModelSet& m, const LoadOptions& opt) {
  const BuiltinConfigs b = builtin_configs(m.version.name);
  const fs::path root(opt.config_dir);
  const bool folder = !opt.config_dir.empty();
  m.tokenizer = load_model_tokenizer(folder ? (root / "tokenizer").string() : "", opt.tokenizer_dir, b.tokenizer);
  if (m.version.family == Family::SDXL)
    m.tokenizer_2 =
        load_model_tokenizer(folder ? (root / "tokenizer_2").string() : "", opt.tokenizer_dir, b.tokenizer_2);
}

}  // namespace

const VersionDefaults& single_file_version(const models::LdmLayout& layout, const std::string& requested,
                                           const std::string& path) {
  if (layout.unet_in_channels != 4 && layout.unet_in_channels != 9)
    throw Error(path + ": the UNet takes " + std::to_string(layout.unet_in_channels) +
                " input channels; Stable Diffusion models take 4 (9 for inpainting)");
  const bool inpaint = layout.unet_in_channels == 9;
  const char* shown_name = "";
  switch (layout.text_encoders) {
    case LdmTextEncoders::Clip:
      shown_name = inpaint ? "v1-5-inpaint" : "v1-5";
      break;
    case LdmTextEncoders::OpenClip:
      shown_name = inpaint ? "v2-inpaint" : "v2-1";
      break;
    case LdmTextEncoders::ClipAndOpenClip:
      shown_name = inpaint ? "xl-inpaint" : "xl";
      break;
  }
  const VersionDefaults& shown = version_named(shown_name);
  if (requested.empty()) return shown;
  const auto want = find_version(requested);
  if (!want) throw Error("unknown --sd-version \"" + requested + "\"");
  const VersionDefaults& version = version_named(want->name);
  if (!same_architecture(version, shown))
    throw Error(path + ": the checkpoint's weights are an " + architecture(shown) + " model; --sd-version " +
                version.name + " is " + architecture(version));
  return version;
}

ModelSet load_single_file(const LoadOptions& opt, const StreamTextEncoders& stream_text_encoders) {
  const auto file = std::make_shared<const io::SafetensorsFile>(io::SafetensorsFile::open(opt.model_path));
  const models::LdmLayout layout = models::detect_ldm_layout(*file);
  Configs c = opt.config_dir.empty() ? builtin_configs_of(single_file_version(layout, opt.sd_version, opt.model_path))
                                     : configs_from_folder(opt, single_file_version(layout, "", opt.model_path));

  ModelSet m;
  m.source = opt.model_path;
  m.version = c.version;
  m.force_zeros_for_empty_prompt = c.force_zeros_for_empty_prompt;
  m.scheduler = sampling::parse_scheduler_config(c.scheduler);
  log_info("loading " + m.version.name + " single-file checkpoint " + opt.model_path + " with " + c.origin +
           " configs (" + std::string(dtype_name(opt.dtype)) + ")");
  load_tokenizers(m, opt);

  const std::string what = c.origin + " config";
  const auto te_config = models::ClipTextConfig::parse(c.text_encoder, what + " (text_encoder)");
  const auto unet_config = models::UNetConfig::parse(c.unet, what + " (unet)");
  const auto vae_config = models::VaeConfig::parse(c.vae, what + " (vae)");
  std::vector<std::shared_ptr<const models::LdmWeights>> sources;
  const std::optional<Device> prepare_on = prepare_while_reading(opt.device);
  // A text encoder on its weights, its layers streamed from them or kept (model_set.h).
  const auto text_encoder = [&](const models::ClipTextConfig& config, std::shared_ptr<models::LdmWeights> w,
                                models::ClipLayers layers) {
    sources.push_back(w);
    if (layers == models::ClipLayers::Streamed) return std::make_unique<models::ClipTextModel>(config, w, opt.dtype);
    if (prepare_on) w->prepare_layers_on(*prepare_on);
    return std::make_unique<models::ClipTextModel>(config, *w, opt.dtype);
  };
  try {
    std::shared_ptr<models::LdmWeights> unet_weights = models::ldm_unet_weights(file, unet_config);
    if (prepare_on) unet_weights->prepare_layers_on(*prepare_on);
    sources.push_back(unet_weights);
    m.unet = std::make_unique<models::UNet2DConditionModel>(unet_config, *unet_weights, opt.dtype);
    sources.push_back(models::ldm_vae_weights(file, vae_config));
    m.vae = std::make_unique<models::AutoencoderKL>(vae_config, *sources.back(), opt.dtype);
    const bool xl = layout.text_encoders == LdmTextEncoders::ClipAndOpenClip;
    std::optional<models::ClipTextConfig> te2_config;
    if (xl) te2_config = models::ClipTextConfig::parse(c.text_encoder_2, what + " (text_encoder_2)");
    const models::ClipLayers layers =
        text_encoder_layers(opt, m, te_config, te2_config ? &*te2_config : nullptr, stream_text_encoders);
    if (layout.text_encoders == LdmTextEncoders::OpenClip) {
      m.text_encoder =
          text_encoder(te_config, models::ldm_open_clip_weights(file, models::kLdmSd2OpenClipPrefix, te_config), layers);
    } else {
      m.text_encoder = text_encoder(
          te_config, models::ldm_clip_weights(file, xl ? models::kLdmSdxlClipPrefix : models::kLdmSd1ClipPrefix),
          layers);
    }
    if (xl)
      m.text_encoder_2 = text_encoder(
          *te2_config, models::ldm_open_clip_weights(file, models::kLdmSdxlOpenClipPrefix, *te2_config), layers);
    for (const auto& s : sources) s->require_all_used();
  } catch (const Error& e) {
    if (!opt.config_dir.empty()) throw;
    throw Error(std::string(e.what()) + " (with the " + c.origin +
                " configs; for a model of other dimensions pass --config with its diffusers configs)");
  }
  return m;
}

}  // namespace sd::pipeline
