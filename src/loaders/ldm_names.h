#pragma once
// Where each diffusers tensor lives in an original LDM ("CompVis"/Stability) single-file
// checkpoint, the layout most shared fine-tunes are published in. Names follow
// diffusers' single_file_utils conversions (convert_ldm_unet_checkpoint,
// convert_ldm_vae_checkpoint, convert_ldm_clip_checkpoint, convert_open_clip_checkpoint),
// run backwards: the model asks for a diffusers name, and these say which checkpoint
// tensor, and which part of it, holds that tensor.
#include <optional>
#include <string>

#include "models/unet_config.h"
#include "models/vae_config.h"

namespace sd::models {

// Prefixes of the components inside the checkpoint.
inline constexpr const char* kLdmUnetPrefix = "model.diffusion_model.";
inline constexpr const char* kLdmVaePrefix = "first_stage_model.";
inline constexpr const char* kLdmSd1ClipPrefix = "cond_stage_model.transformer.";          // HF CLIPTextModel
inline constexpr const char* kLdmSd2OpenClipPrefix = "cond_stage_model.model.";            // OpenCLIP ViT-H text
inline constexpr const char* kLdmSdxlClipPrefix = "conditioner.embedders.0.transformer.";  // HF CLIPTextModel
inline constexpr const char* kLdmSdxlOpenClipPrefix = "conditioner.embedders.1.model.";    // OpenCLIP bigG text

// One checkpoint tensor, or the part of it that is one diffusers tensor.
struct LdmTensor {
  std::string name;        // full key in the checkpoint
  int qkv_chunk = -1;      // 0, 1, 2: the q, k or v third (along dim 0) of a fused in_proj tensor
  bool transpose = false;  // a 2-D tensor stored as [in, out] (OpenCLIP's text_projection)
};

// Each returns nullopt for a name the component does not have in LDM form.
// UNet2DConditionModel: input_blocks / middle_block / output_blocks numbering from the
// config's blocks (every down block takes layers_per_block entries plus one for its
// downsampler; every up block layers_per_block + 1, its upsampler in the last one).
std::optional<LdmTensor> ldm_unet_tensor(const UNetConfig& c, const std::string& name);
// AutoencoderKL: encoder.down.{i} / decoder.up.{levels-1-i} (the decoder's levels are
// numbered from the lowest resolution in LDM), mid.block_1/attn_1/block_2, norm_out.
std::optional<LdmTensor> ldm_vae_tensor(const VaeConfig& c, const std::string& name);
// A Hugging Face CLIPTextModel saved whole under `prefix` (SD1.x, SDXL's first encoder).
std::optional<LdmTensor> ldm_clip_tensor(const std::string& prefix, const std::string& name);
// An OpenCLIP text tower under `prefix` (SD2.x, SDXL's second encoder): resblocks with
// a fused in_proj for q/k/v, ln_1/ln_2, mlp.c_fc/c_proj, ln_final, text_projection.
std::optional<LdmTensor> ldm_open_clip_tensor(const std::string& prefix, const std::string& name);

}  // namespace sd::models
