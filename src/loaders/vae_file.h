#pragma once
// A VAE that replaces the model's own (--vae), as A1111's and ComfyUI's VAE choice does:
// - a diffusers AutoencoderKL folder (config.json and its weights), with its own config;
// - a single .safetensors file with the model's VAE config: in LDM naming, stand-alone
//   (encoder.*, decoder.*, quant_conv.*, as the fine-tuned vae-ft-mse-840000-ema-pruned
//   and most shared VAEs are) or inside a whole checkpoint (first_stage_model.*), or in
//   diffusers naming (encoder.down_blocks.*, a diffusers vae/ weights file on its own).
#include <memory>
#include <string>

#include "core/dtype.h"
#include "models/autoencoder_kl.h"

namespace sd::pipeline {

// `model_vae`: the config of the model's own VAE, which a replacement must fit (latent
// channels, and a single file's whole architecture). Throws sd::Error naming `path` when it
// is neither a folder nor a .safetensors file, holds no VAE or one of other dimensions.
std::unique_ptr<models::AutoencoderKL> load_vae_file(const std::string& path, const models::VaeConfig& model_vae,
                                                     DType dtype);

}  // namespace sd::pipeline
