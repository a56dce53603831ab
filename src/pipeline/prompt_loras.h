#pragma once
// LoRAs named in the prompt, as AUTOMATIC1111 writes them: "<lora:NAME>" or
// "<lora:NAME:WEIGHT>". The tags are taken out of the text the text encoder sees, and each
// NAME is a file name in the operator's LoRA folders (lora_location.h), so a prompt can
// never reach a file outside them. Every front end (sd-generate, the native, A1111 and
// OpenAI routes) gets them through the pipeline.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/request.h"

namespace sd::pipeline {

// At most this many LoRAs per image, tags and explicit loras together.
inline constexpr size_t kMaxLorasPerImage = 16;

struct PromptLoraTag {
  std::string name;     // as written: a file name without folder, ".safetensors" optional
  float weight = 1.0f;  // -10..10, 1 when omitted
};

struct PromptLoraTags {
  std::string text;  // the prompt without its tags
  std::vector<PromptLoraTag> loras;
};

// Finds and removes the tags. Other "<...>" text stays as it is. Throws sd::Error naming the
// tag when one is malformed: an empty name, a weight that is not a number within -10..10,
// separate text-encoder/UNet weights (<lora:NAME:W1:W2>, not supported), or more than
// kMaxLorasPerImage tags.
PromptLoraTags extract_lora_tags(std::string_view prompt);

// `explicit_loras` followed by the tags' LoRAs, each name resolved in `lora_dirs`. Throws
// sd::Error for a name that is not a LoRA file in those folders (the same message whether
// or not a file exists elsewhere), or more than kMaxLorasPerImage in all.
std::vector<LoraSpec> loras_with_tags(const std::vector<LoraSpec>& explicit_loras, const PromptLoraTags& tags,
                                      const std::vector<std::string>& lora_dirs);

}  // namespace sd::pipeline
