#pragma once
// Every component of one model set, loaded from a diffusers folder: text encoders and
// their tokenizers, UNet, VAE, the scheduler settings, and the version they make up.
#include <memory>
#include <optional>
#include <string>

#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition.h"
#include "pipeline/model_version.h"
#include "pipeline/pipeline.h"
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
};

// Loads a diffusers folder. Throws sd::Error naming the missing or bad file, or the
// mismatch between opt.sd_version and what the configs say.
ModelSet load_diffusers_folder(const LoadOptions& opt);

}  // namespace sd::pipeline
