#pragma once
// The CLIP BPE vocabulary built into the binary (OpenAI CLIP's merges, MIT licensed: see
// THIRD_PARTY_NOTICES), for models that ship no vocab.json/merges.txt: a single-file
// checkpoint, or a diffusers folder without them. Every SD text encoder (CLIP ViT-L,
// OpenCLIP ViT-H and bigG) uses this one vocabulary; models differ only in their
// tokenizer config (the pad token).
#include <memory>
#include <string_view>

#include "text/clip_bpe.h"

namespace sd::text {

// The text of third_party/openai-clip/merges.txt (generated at build time).
std::string_view builtin_clip_merges_text();

// Built once, on first use, and shared.
std::shared_ptr<const ClipBpe> builtin_clip_bpe();

}  // namespace sd::text
