#include "pipeline/preview_decoder.h"

#include "core/error.h"
#include "core/log.h"
#include "ops/ops.h"
#include "pipeline/image_convert.h"
#include "pipeline/latent_preview.h"

namespace sd::pipeline {

const char* preview_mode_name(PreviewMode mode) {
  switch (mode) {
    case PreviewMode::None:
      return "none";
    case PreviewMode::LatentRgb:
      return "latent";
    case PreviewMode::Taesd:
      return "taesd";
  }
  return "none";
}

std::optional<PreviewMode> parse_preview_mode(std::string_view name) {
  for (PreviewMode m : {PreviewMode::None, PreviewMode::LatentRgb, PreviewMode::Taesd})
    if (name == preview_mode_name(m)) return m;
  return std::nullopt;
}

PreviewDecoder::PreviewDecoder(Family family, const std::string& taesd_path, DType dtype, int latent_channels,
                               int scale_factor)
    : family_(family) {
  if (taesd_path.empty()) return;
  auto taesd = models::Taesd::load(taesd_path, dtype);
  if (!taesd->has_decoder()) throw Error(taesd_path + ": TAESD encoder weights only; previews need the decoder");
  const auto& c = taesd->config();
  if (c.latent_channels != latent_channels)
    throw Error(taesd_path + ": this TAESD decodes " + std::to_string(c.latent_channels) +
                " latent channels, the model's UNet makes " + std::to_string(latent_channels) +
                " (a TAESD for another model family?)");
  if (taesd->scale_factor() != scale_factor)
    throw Error(taesd_path + ": this TAESD upscales latents " + std::to_string(taesd->scale_factor()) +
                "x, the model's VAE " + std::to_string(scale_factor) + "x");
  if (c.out_channels != 3)
    throw Error(taesd_path + ": this TAESD makes " + std::to_string(c.out_channels) +
                " image channels, previews need 3");
  log_info("TAESD loaded from " + taesd_path + " for previews and fast decoding");
  taesd_ = std::move(taesd);
}

io::Image PreviewDecoder::preview(const Tensor& latents, PreviewMode mode) const {
  SD_CHECK(mode != PreviewMode::None, "preview requested with PreviewMode::None");
  if (mode == PreviewMode::Taesd && taesd_) return decode(latents);
  return latent_rgb_preview(latents, family_);
}

io::Image PreviewDecoder::decode(const Tensor& latents) const {
  if (!taesd_) throw Error("decoding with TAESD needs TAESD weights (taesd_path / --taesd), none were loaded");
  return tensor_to_image(taesd_->decode(ops::scale(latents, 1.0f / taesd_->scaling_factor())));
}

std::vector<std::string> PreviewDecoder::preview_modes() const {
  std::vector<std::string> modes{preview_mode_name(PreviewMode::None), preview_mode_name(PreviewMode::LatentRgb)};
  if (taesd_) modes.emplace_back(preview_mode_name(PreviewMode::Taesd));
  return modes;
}

std::vector<std::string> PreviewDecoder::decoders() const {
  std::vector<std::string> names{"vae"};
  if (taesd_) names.emplace_back("taesd");
  return names;
}

}  // namespace sd::pipeline
