#pragma once
// The text half of the CLIP tokenizer (OpenAI simple_tokenizer / Hugging Face CLIPTokenizer):
// cleaning a prompt and splitting it into the words that byte-level BPE then encodes.
#include <string>
#include <string_view>
#include <vector>

namespace sd::text {

// html.unescape applied twice, strip, every run of whitespace -> one space, strip, lowercase
// (Python semantics throughout; ftfy is not applied).
std::u32string clip_clean_text(std::u32string_view text);

// Splits cleaned text the way the reference's case-insensitive pattern
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// does under the `regex` module, returning each match as UTF-8.
std::vector<std::string> clip_pretokenize(std::u32string_view cleaned);

}  // namespace sd::text
