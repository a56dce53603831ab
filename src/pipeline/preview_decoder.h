#pragma once
// Images from latents other than through the VAE: the previews shown while denoising,
// and TAESD's fast final decode.
//
// A TAESD preview decodes the step's x0 estimate (StepResult::denoised; the current
// latents for samplers that give none) at full image size, as diffusers'
// AutoencoderTiny would in a pipeline: UNet-space latents divided by TAESD's
// scaling_factor (1.0), decoded to [-1,1], then converted to 8 bits like the final
// image. It costs about a fifteenth of a VAE decode (512x512 in float32 on a busy
// 2-core machine: TAESD 2.6 s, the SD1.5 VAE 42 s), which is what makes full-size
// previews every few steps affordable.
// Without TAESD, previews are the latent-to-RGB approximation at latent size.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "io/image.h"
#include "models/taesd.h"
#include "loaders/model_version.h"
#include "pipeline/request.h"

namespace sd::pipeline {

// "none", "latent", "taesd": the names front ends and ModelInfo use.
const char* preview_mode_name(PreviewMode mode);
std::optional<PreviewMode> parse_preview_mode(std::string_view name);

class PreviewDecoder {
 public:
  // Loads TAESD from `taesd_path` (models::Taesd::load) unless it is empty, and checks
  // that it decodes the model's latents: `latent_channels` channels, images
  // `scale_factor` times their size. Throws sd::Error naming the path otherwise.
  PreviewDecoder(Family family, const std::string& taesd_path, DType dtype, int latent_channels, int scale_factor);

  bool has_taesd() const { return taesd_ != nullptr; }

  // The preview of UNet-space latents [1, C, h, w]: TAESD's decode at image size for
  // PreviewMode::Taesd when TAESD is loaded, else the latent RGB approximation at latent
  // size. `mode` must not be None.
  io::Image preview(const Tensor& latents, PreviewMode mode) const;
  // The final image decoded by TAESD; throws sd::Error without TAESD.
  io::Image decode(const Tensor& latents) const;

  // For ModelInfo: the preview modes with distinct output, and the final decoders.
  std::vector<std::string> preview_modes() const;
  std::vector<std::string> decoders() const;

 private:
  Family family_;
  std::unique_ptr<models::Taesd> taesd_;
};

}  // namespace sd::pipeline
