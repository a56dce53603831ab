#pragma once
// Model weights from an original LDM single-file checkpoint (`.safetensors` holding the
// UNet, VAE and text encoder(s) under model.diffusion_model.*, first_stage_model.*,
// cond_stage_model.* or conditioner.embedders.*), served under diffusers names so the
// same model classes load them. Each component is one LdmWeights over the shared file:
// - names are translated by ldm_names.h;
// - OpenCLIP's fused attention in_proj is split into q/k/v, its text_projection
//   transposed;
// - a tensor stored with trailing 1x1 dims where the model expects a matrix (the VAE
//   attention's 1x1 convs), or the reverse, is reshaped;
// - what the model never asks for is checked by require_all_used(): a mismatched config
//   fails instead of silently dropping layers. Buffers and training leftovers (EMA
//   copies, alphas_cumprod, position_ids, logit_scale) are not model tensors and are
//   ignored, as is the last OpenCLIP layer SD2 skips.
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "io/safetensors.h"
#include "models/clip_config.h"
#include "loaders/ldm_names.h"
#include "models/weight_source.h"

namespace sd::models {

// Which text encoders a checkpoint carries, which says its family.
enum class LdmTextEncoders {
  Clip,             // SD1.x: cond_stage_model.transformer.* (CLIP ViT-L)
  OpenClip,         // SD2.x: cond_stage_model.model.* (OpenCLIP ViT-H)
  ClipAndOpenClip,  // SDXL: conditioner.embedders.0.transformer.* + .1.model.* (bigG)
};

struct LdmLayout {
  LdmTextEncoders text_encoders;
  int unet_in_channels;  // 4, or 9 for inpainting
};

// Recognises the checkpoint's structure from tensor names and shapes. Throws sd::Error
// naming the file when it is not a Stable Diffusion checkpoint in LDM naming (e.g. a
// diffusers component file, an SDXL refiner, a LoRA).
LdmLayout detect_ldm_layout(const io::SafetensorsFile& file);

class LdmWeights : public WeightSource {
 public:
  using Translate = std::function<std::optional<LdmTensor>(const std::string& diffusers_name)>;
  using Ignorable = std::function<bool(const std::string& key_after_prefix)>;

  // `prefix`: the component's key prefix, whose tensors require_all_used() accounts for.
  LdmWeights(std::shared_ptr<const io::SafetensorsFile> file, std::string prefix, std::string component,
             Translate translate, Ignorable ignorable);

  bool has(const std::string& name) const override;
  std::string describe() const override;
  // Throws sd::Error when tensors under the prefix were never asked for (and are not
  // ignorable): the config describes a smaller model than the checkpoint holds.
  void require_all_used() const;
  // The tensor's rows read from the file (a fused q/k/v projection's third included); empty
  // for a tensor stored transposed, or shaped otherwise than the model expects (fetch()
  // then says how).
  std::optional<WeightRows> rows(const std::string& name, const Shape& shape, DType dtype) const override;

 protected:
  Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const override;

 private:
  std::shared_ptr<const io::SafetensorsFile> file_;
  std::string prefix_, component_;
  Translate translate_;
  Ignorable ignorable_;
  mutable std::set<std::string> fetched_;
};

std::unique_ptr<LdmWeights> ldm_unet_weights(std::shared_ptr<const io::SafetensorsFile> file, const UNetConfig& c);
// `prefix`: where the VAE's tensors are, kLdmVaePrefix in a whole checkpoint, "" in a
// stand-alone LDM VAE file (such as vae-ft-mse-840000-ema-pruned.safetensors), whose
// training leftovers (loss.*, model_ema.decay, model_ema.num_updates) are ignored.
std::unique_ptr<LdmWeights> ldm_vae_weights(std::shared_ptr<const io::SafetensorsFile> file, const VaeConfig& c,
                                            const std::string& prefix = kLdmVaePrefix);
// `prefix`: kLdmSd1ClipPrefix or kLdmSdxlClipPrefix.
std::unique_ptr<LdmWeights> ldm_clip_weights(std::shared_ptr<const io::SafetensorsFile> file,
                                             const std::string& prefix);
// `prefix`: kLdmSd2OpenClipPrefix or kLdmSdxlOpenClipPrefix. Layers beyond
// c.num_hidden_layers are ignored (SD2 runs 23 of its 24), and so is text_projection
// unless c.with_projection.
std::unique_ptr<LdmWeights> ldm_open_clip_weights(std::shared_ptr<const io::SafetensorsFile> file,
                                                  const std::string& prefix, const ClipTextConfig& c);

}  // namespace sd::models
