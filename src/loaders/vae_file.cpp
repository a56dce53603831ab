#include "loaders/vae_file.h"

#include <filesystem>

#include "core/error.h"
#include "loaders/ldm_weights.h"

namespace sd::pipeline {

namespace {

namespace fs = std::filesystem;

std::unique_ptr<models::AutoencoderKL> load_single_file_vae(const std::string& path,
                                                            const models::VaeConfig& config, DType dtype) {
  const auto file = std::make_shared<const io::SafetensorsFile>(io::SafetensorsFile::open(path));
  if (file->contains("encoder.down_blocks.0.resnets.0.conv1.weight")) {
    models::SafetensorsWeights weights({path});
    auto vae = std::make_unique<models::AutoencoderKL>(config, weights, dtype);
    weights.require_all_used();
    return vae;
  }
  std::string prefix;
  if (file->contains(std::string(models::kLdmVaePrefix) + "encoder.conv_in.weight")) {
    prefix = models::kLdmVaePrefix;
  } else if (!file->contains("encoder.conv_in.weight")) {
    throw Error(path + ": no VAE in it (neither encoder.conv_in.weight, first_stage_model.encoder.conv_in.weight "
                       "nor encoder.down_blocks.* found)");
  }
  const auto weights = models::ldm_vae_weights(file, config, prefix);
  auto vae = std::make_unique<models::AutoencoderKL>(config, *weights, dtype);
  weights->require_all_used();
  return vae;
}

}  // namespace

std::unique_ptr<models::AutoencoderKL> load_vae_file(const std::string& path, const models::VaeConfig& model_vae,
                                                     DType dtype) {
  std::error_code ec;
  std::unique_ptr<models::AutoencoderKL> vae;
  try {
    if (fs::is_directory(path, ec)) {
      vae = models::AutoencoderKL::load(path, dtype);
    } else if (fs::is_regular_file(path, ec) && fs::path(path).extension() == ".safetensors") {
      vae = load_single_file_vae(path, model_vae, dtype);
    } else {
      throw Error(path + ": not a diffusers VAE folder or a .safetensors file");
    }
  } catch (const Error& e) {
    throw Error(std::string("--vae: ") + e.what());
  }
  if (vae->config().latent_channels != model_vae.latent_channels || vae->scale_factor() != model_vae.scale_factor())
    throw Error("--vae " + path + ": its latents have " + std::to_string(vae->config().latent_channels) +
                " channels at 1/" + std::to_string(vae->scale_factor()) + " of the image size; the model's have " +
                std::to_string(model_vae.latent_channels) + " at 1/" + std::to_string(model_vae.scale_factor()));
  return vae;
}

}  // namespace sd::pipeline
