#include "loaders/model_set.h"

#include <filesystem>
#include <optional>

#include "backend/backend.h"
#include "core/error.h"
#include "core/log.h"
#include "loaders/builtin_configs.h"
#include "loaders/device_placement.h"
#include "loaders/model_source.h"
#include "loaders/model_tokenizer.h"
#include "loaders/vae_file.h"

namespace sd::pipeline {

namespace fs = std::filesystem;

namespace {

io::Json read_config(const fs::path& dir, const std::string& name) {
  const fs::path p = dir / name;
  if (!fs::exists(p)) throw Error(p.string() + ": missing (not a complete diffusers model folder)");
  return io::read_json_file(p.string());
}

}  // namespace

FolderConfigs read_folder_configs(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw Error(dir + ": not a directory");
  FolderConfigs c;
  c.evidence.unet = read_config(root / "unet", "config.json");
  c.evidence.text_encoder = read_config(root / "text_encoder", "config.json");
  c.evidence.scheduler = read_config(root / "scheduler", "scheduler_config.json");
  c.vae = read_config(root / "vae", "config.json");
  c.evidence.has_text_encoder_2 = fs::exists(root / "text_encoder_2" / "config.json");
  if (c.evidence.has_text_encoder_2) c.text_encoder_2 = read_config(root / "text_encoder_2", "config.json");
  const fs::path index = root / "model_index.json";
  if (fs::exists(index))
    c.force_zeros_for_empty_prompt =
        io::json_get<bool>(io::read_json_file(index.string()), "force_zeros_for_empty_prompt", false, index.string());
  return c;
}

models::ClipLayers text_encoder_layers(const LoadOptions& opt, const ModelSet& m, const models::ClipTextConfig& first,
                                       const models::ClipTextConfig* second, const StreamTextEncoders& decide) {
  if (!opt.device.is_cpu() || !decide) return models::ClipLayers::Resident;
  uint64_t bytes = models::ClipTextModel::weight_bytes(first, opt.dtype);
  if (second) bytes += models::ClipTextModel::weight_bytes(*second, opt.dtype);
  return decide(m, bytes) ? models::ClipLayers::Streamed : models::ClipLayers::Resident;
}

ModelSet load_model_set(const LoadOptions& opt, const StreamTextEncoders& stream_text_encoders) {
  const ModelSource src = resolve_model_source(opt);
  LoadOptions o = opt;
  o.model_path = src.location;
  o.sd_version = src.version;
  // A device this build or machine lacks, or a dtype it does not compute in (f16 on the
  // CPU), is refused before anything is read.
  if (!backend::backend_for(opt.device).computes_in(opt.dtype))
    throw Error(opt.device.str() + " does not compute in " + std::string(dtype_name(opt.dtype)));
  if (src.kind == ModelSource::Kind::HubRepo) o.model_path = fetch_hub_model(src.location, opt.dtype);
  ModelSet m = src.kind == ModelSource::Kind::SingleFile ? load_single_file(o, stream_text_encoders)
                                                             : load_diffusers_folder(o, stream_text_encoders);
  if (!opt.vae_path.empty()) {
    log_info("VAE from " + opt.vae_path);
    m.vae = load_vae_file(opt.vae_path, m.vae->config(), opt.dtype);
    m.vae_source = opt.vae_path;
  }
  place_on_device(m, opt.device);
  return m;
}

ModelSet load_diffusers_folder(const LoadOptions& opt, const StreamTextEncoders& stream_text_encoders) {
  const fs::path root(opt.model_path);
  const FolderConfigs configs = read_folder_configs(opt.model_path);

  ModelSet m;
  m.source = opt.model_path;
  m.version = detect_version(configs.evidence);
  if (!opt.sd_version.empty()) {
    auto want = find_version(opt.sd_version);
    if (!want) throw Error("unknown --sd-version \"" + opt.sd_version + "\"");
    if (want->name != m.version.name)
      throw Error(opt.model_path + ": the model's configs describe version " + m.version.name +
                  ", not the requested " + want->name);
  }
  m.force_zeros_for_empty_prompt = configs.force_zeros_for_empty_prompt;
  m.scheduler = sampling::parse_scheduler_config(configs.evidence.scheduler);

  log_info("loading " + m.version.name + " model from " + opt.model_path + " (" +
           std::string(dtype_name(opt.dtype)) + ")");
  const BuiltinConfigs builtin = builtin_configs(m.version.name);
  m.tokenizer = load_model_tokenizer((root / "tokenizer").string(), opt.tokenizer_dir, builtin.tokenizer);
  if (configs.evidence.has_text_encoder_2)
    m.tokenizer_2 = load_model_tokenizer((root / "tokenizer_2").string(), opt.tokenizer_dir, builtin.tokenizer_2);
  const std::optional<Device> prepare_on = prepare_while_reading(opt.device);
  m.unet = models::UNet2DConditionModel::load((root / "unet").string(), opt.dtype, prepare_on);
  m.vae = models::AutoencoderKL::load((root / "vae").string(), opt.dtype);
  const fs::path te1 = root / "text_encoder" / "config.json", te2 = root / "text_encoder_2" / "config.json";
  const auto te1_config = models::ClipTextConfig::parse(configs.evidence.text_encoder, te1.string());
  std::optional<models::ClipTextConfig> te2_config;
  if (configs.evidence.has_text_encoder_2)
    te2_config = models::ClipTextConfig::parse(configs.text_encoder_2, te2.string());
  const models::ClipLayers layers =
      text_encoder_layers(opt, m, te1_config, te2_config ? &*te2_config : nullptr, stream_text_encoders);
  m.text_encoder =
      models::ClipTextModel::load(te1_config, (root / "text_encoder").string(), opt.dtype, layers, prepare_on);
  if (te2_config)
    m.text_encoder_2 =
        models::ClipTextModel::load(*te2_config, (root / "text_encoder_2").string(), opt.dtype, layers, prepare_on);
  return m;
}

}  // namespace sd::pipeline
