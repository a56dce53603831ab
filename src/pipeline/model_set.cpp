#include "pipeline/model_set.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"

namespace sd::pipeline {

namespace fs = std::filesystem;

namespace {

io::Json read_config(const fs::path& dir, const std::string& name) {
  const fs::path p = dir / name;
  if (!fs::exists(p)) throw Error(p.string() + ": missing (not a complete diffusers model folder)");
  return io::read_json_file(p.string());
}

}  // namespace

ModelSet load_diffusers_folder(const LoadOptions& opt) {
  const fs::path root(opt.model_path);
  if (!fs::is_directory(root)) throw Error(opt.model_path + ": not a directory");
  const bool has_te2 = fs::exists(root / "text_encoder_2" / "config.json");

  VersionEvidence evidence;
  evidence.unet = read_config(root / "unet", "config.json");
  evidence.text_encoder = read_config(root / "text_encoder", "config.json");
  evidence.scheduler = read_config(root / "scheduler", "scheduler_config.json");
  evidence.has_text_encoder_2 = has_te2;

  ModelSet m;
  m.version = detect_version(evidence);
  if (!opt.sd_version.empty()) {
    auto want = find_version(opt.sd_version);
    if (!want) throw Error("unknown --sd-version \"" + opt.sd_version + "\"");
    if (want->name != m.version.name)
      throw Error(opt.model_path + ": the model's configs describe version " + m.version.name +
                  ", not the requested " + want->name);
  }
  if (fs::exists(root / "model_index.json")) {
    io::Json index = io::read_json_file((root / "model_index.json").string());
    m.force_zeros_for_empty_prompt =
        io::json_get<bool>(index, "force_zeros_for_empty_prompt", false, (root / "model_index.json").string());
  }
  m.scheduler = sampling::parse_scheduler_config(evidence.scheduler);

  log_info("loading " + m.version.name + " model from " + opt.model_path + " (" +
           std::string(dtype_name(opt.dtype)) + ")");
  m.tokenizer = text::ClipTokenizer::load((root / "tokenizer").string(), opt.tokenizer_dir);
  m.text_encoder = models::ClipTextModel::load((root / "text_encoder").string(), opt.dtype);
  if (has_te2) {
    m.tokenizer_2 = text::ClipTokenizer::load((root / "tokenizer_2").string(), opt.tokenizer_dir);
    m.text_encoder_2 = models::ClipTextModel::load((root / "text_encoder_2").string(), opt.dtype);
  }
  m.unet = models::UNet2DConditionModel::load((root / "unet").string(), opt.dtype);
  m.vae = models::AutoencoderKL::load((root / "vae").string(), opt.dtype);
  return m;
}

}  // namespace sd::pipeline
