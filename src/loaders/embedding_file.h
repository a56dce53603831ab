#pragma once
// One textual-inversion embedding file (.safetensors), as AUTOMATIC1111 reads them:
// - SD1/SD2: the vectors under "emb_params" (A1111's own format), "string_to_param.*" or
//   "*" (its older .pt layout, converted), or the file's only tensor (diffusers'
//   learned_embeds);
// - SDXL: "clip_l" for the first text encoder and "clip_g" for the second.
// The vectors are [N, hidden] (one vector may be stored as [hidden]).
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace sd::pipeline {

// Bounds on untrusted files: a prompt chunk holds 75 tokens, and no real embedding comes
// near these sizes.
inline constexpr int64_t kMaxEmbeddingVectors = 75;
inline constexpr uint64_t kMaxEmbeddingFileBytes = uint64_t(16) << 20;

struct EmbeddingVectors {
  Tensor single;  // SD1/SD2: [N, hidden] float32; undefined in SDXL files
  Tensor clip_l;  // SDXL's first encoder: [N, 768]
  Tensor clip_g;  // SDXL's second encoder: [N, 1280]
};

// Throws sd::Error naming `path` for a file that is too large, not safetensors, or holds
// no embedding in one of the layouts above, more than kMaxEmbeddingVectors vectors, or
// values that are not finite.
EmbeddingVectors read_embedding_file(const std::string& path);

}  // namespace sd::pipeline
