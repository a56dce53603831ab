#pragma once
// Prompts of any length as CLIP inputs, the AUTOMATIC1111 way: the token ids are cut into
// chunks of model_max_length - 2 (75) tokens, each chunk is wrapped in BOS ... EOS and padded
// to model_max_length (77) with the tokenizer's pad id, and the text encoder runs once per
// chunk. Each id carries the emphasis weight the pipeline multiplies its embedding by (1 for
// BOS, EOS and padding).
//
// A prompt of at most 75 tokens gives one chunk equal to ClipTokenizer::encode_padded, so short
// prompts match diffusers exactly. Chunks are cut at exactly 75 tokens (A1111's optional
// "comma padding backtrack" is not done).
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "text/clip_tokenizer.h"

namespace sd::text {

struct PromptChunk {
  std::vector<int32_t> ids;    // max_length ids: BOS, tokens, EOS, padding
  std::vector<float> weights;  // one per id
};

// Plain text, no emphasis syntax: every weight is 1.
std::vector<PromptChunk> tokenize_prompt(const ClipTokenizer& tokenizer, std::string_view prompt);

// A word whose ids stand for others: a textual-inversion embedding's name, whose ids
// (`match`, the name tokenized alone) become the ids of the embedding's vectors
// (`replacement`, added tokens of the text encoder) wherever they occur, as A1111 does.
struct TokenSubstitution {
  std::vector<int32_t> match;
  std::vector<int32_t> replacement;
};

// With A1111 emphasis syntax and BREAK (see prompt_attention.h). Each piece of the parsed
// prompt is tokenized on its own, as A1111 does, then the longest `substitutions` match
// at each position is replaced. BREAK closes the current chunk, even an empty one. Always
// at least one chunk. Throws sd::Error for prompts parse_prompt_attention rejects.
std::vector<PromptChunk> tokenize_weighted_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                                                  std::span<const TokenSubstitution> substitutions = {});

}  // namespace sd::text
