#pragma once
// The "parameters" text AUTOMATIC1111 writes into its images (PNG text chunk, JPEG/WebP
// EXIF UserComment) and reads back ("PNG Info"), with A1111's names, values and order.
#include <string>
#include <utility>
#include <vector>

#include "pipeline/model_hashes.h"
#include "pipeline/request.h"

namespace sd::pipeline {

// prompt, then "Negative prompt: ...", then the settings line in A1111's order:
// "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 42,
// Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength,
// Clip skip, RNG, Mask blur, Inpaint area, Masked area padding, Masked content, Lora
// hashes", then this project's "Lora: <name>:<strength>" per LoRA
// (A1111 keeps strengths in the prompt's <lora:> tags). No value holds a path. `lora_hashes`
// follows req.loras. An inpaint's settings are the ones it ran with: a caller whose "only
// masked" fell back to the whole picture (a blank mask) clears inpaint_only_masked and
// masked_content, as A1111 leaves them out then. Deterministic in its inputs, so the same
// job gives the same bytes.
std::string parameters_text(const GenerationRequest& req, const CheckpointIdentity& model,
                            const std::vector<std::string>& lora_hashes);

// A parameters text read back as A1111's parse_generation_parameters reads it: the prompt,
// the negative prompt, and the settings in their order, quoted values unquoted. A text
// whose last line holds fewer than 3 settings is all prompt.
struct ParsedParameters {
  std::string prompt;
  std::string negative_prompt;
  std::vector<std::pair<std::string, std::string>> settings;
};
ParsedParameters parse_parameters_text(const std::string& text);

}  // namespace sd::pipeline
