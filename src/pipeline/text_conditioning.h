#pragma once
// Prompt text to UNet conditioning, for every family: SD1.x/SD2.x take one text
// encoder's (clip-skipped, final-normed) hidden states; SDXL concatenates both encoders'
// penultimate states and adds the second encoder's pooled projection. Prompts longer
// than 75 tokens are encoded in 75-token chunks concatenated along the sequence, and
// A1111 emphasis weights scale the token embeddings.
#include <string>

#include "core/tensor.h"
#include "loaders/model_set.h"
#include "pipeline/textual_inversion.h"

namespace sd::pipeline {

struct Conditioning {
  Tensor context;  // [B, 77*chunks, cross_attention_dim] float32; B=2 (uncond, cond) with CFG
  Tensor pooled;   // [B, projection_dim] float32, SDXL only
};

// clip_skip uses A1111's numbering: 1 = the last layer, 2 = the one before, ...
// `embeddings`: the textual-inversion names both prompts may use.
Conditioning encode_prompts(const ModelSet& m, const std::string& prompt, const std::string& negative_prompt,
                            int clip_skip, bool classifier_free_guidance,
                            const TextualInversions& embeddings = TextualInversions());

}  // namespace sd::pipeline
