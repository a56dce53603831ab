#pragma once
// Every component of one model set: text encoders and their tokenizers, UNet, VAE, the
// scheduler settings, and the version they make up. It loads from a diffusers folder,
// from an LDM single-file checkpoint, or from a Hugging Face Hub repository downloaded
// into the Hub cache (model_source.h says which).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "loaders/ldm_weights.h"
#include "models/unet_2d_condition.h"
#include "loaders/model_version.h"
#include "loaders/load_options.h"
#include "sampling/scheduler_config.h"
#include "text/clip_tokenizer.h"

namespace sd::pipeline {

struct ModelSet {
  VersionDefaults version;
  std::unique_ptr<models::ClipTextModel> text_encoder;
  std::unique_ptr<models::ClipTextModel> text_encoder_2;  // SDXL only
  std::optional<text::ClipTokenizer> tokenizer;
  std::optional<text::ClipTokenizer> tokenizer_2;          // SDXL only
  std::unique_ptr<models::UNet2DConditionModel> unet;
  std::unique_ptr<models::AutoencoderKL> vae;
  sampling::SchedulerConfig scheduler;
  // SDXL: an empty negative prompt means zero conditioning, not the encoding of "".
  bool force_zeros_for_empty_prompt = false;
  std::string source;  // the folder or file the weights came from
  std::string vae_source;  // LoadOptions::vae_path when it replaced the model's VAE, else empty
};

// The configs of a diffusers folder, without its weights.
struct FolderConfigs {
  VersionEvidence evidence;  // unet, text_encoder, scheduler configs; text_encoder_2 present
  io::Json vae;
  io::Json text_encoder_2;   // null without one
  bool force_zeros_for_empty_prompt = false;  // model_index.json, false without it
};
// Throws sd::Error naming a missing or malformed file.
FolderConfigs read_folder_configs(const std::string& dir);

// Asked once the UNet and the VAE are loaded, before the text encoders, on the CPU only:
// whether the text encoders, whose weights would take `text_encoder_bytes` kept in memory,
// should stream their layers from the files for each job (models::ClipLayers::Streamed)
// instead. Not given: they are kept in memory.
using StreamTextEncoders =
    std::function<bool(const ModelSet& without_text_encoders, uint64_t text_encoder_bytes)>;

// What Pipeline::load loads: resolves the options (resolve_model_source), downloads a
// Hub repository if that is what they name, and loads the folder or file, with the VAE
// of opt.vae_path instead of its own when given.
ModelSet load_model_set(const LoadOptions& opt, const StreamTextEncoders& stream_text_encoders = {});

// Loads the diffusers folder opt.model_path. Throws sd::Error naming the missing or bad
// file, or the mismatch between opt.sd_version and what the configs say.
ModelSet load_diffusers_folder(const LoadOptions& opt, const StreamTextEncoders& stream_text_encoders = {});

// Loads the LDM single-file checkpoint opt.model_path (single_file_loader.cpp):
// - the version comes from its tensors (text encoders, UNet input channels): v1-5,
//   v1-5-inpaint, v2-1, v2-inpaint, xl or xl-inpaint. Weights cannot show v-prediction or
//   a Turbo distillation, so an SD2 checkpoint is taken as v2-1 (768 px, v-prediction, as
//   diffusers does) and an SDXL one as xl; opt.sd_version may name another version of the
//   same architecture instead (sd-turbo, turbo). Other variants (SD2 512-base, which
//   predicts epsilon) need opt.config_dir;
// - with opt.config_dir, configs, tokenizers and scheduler come from that diffusers folder
//   (any dimensions, e.g. the tiny test models), whose version must fit the weights;
//   otherwise from the version's built-in configs (builtin_configs.h). The CLIP
//   vocabulary comes from opt.tokenizer_dir, else the config folder's tokenizer, else the
//   one built into the binary (a single file does not carry it), as for a diffusers
//   folder without tokenizer files (model_tokenizer.h).
ModelSet load_single_file(const LoadOptions& opt, const StreamTextEncoders& stream_text_encoders = {});

// The text encoders' layers: streamed when `decide` says so for `m` (UNet and VAE loaded)
// and encoders of these configs (`second` may be null) and the device is the CPU, else
// resident.
models::ClipLayers text_encoder_layers(const LoadOptions& opt, const ModelSet& m, const models::ClipTextConfig& first,
                                       const models::ClipTextConfig* second, const StreamTextEncoders& decide);

// The version load_single_file runs a checkpoint of this layout as: the one its weights
// show, or `requested` (any spelling find_version accepts) when that is another version
// of the same architecture. Throws sd::Error naming `path` when `requested` does not fit.
const VersionDefaults& single_file_version(const models::LdmLayout& layout, const std::string& requested,
                                           const std::string& path);

}  // namespace sd::pipeline
