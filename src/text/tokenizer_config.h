#pragma once
// The parts of a Hugging Face CLIPTokenizer folder's tokenizer_config.json and
// special_tokens_map.json that change token ids: the special token strings, extra added
// tokens, and model_max_length.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sd::text {

struct TokenizerConfig {
  // CLIPTokenizer's own defaults, also used when a file or key is absent. They are the SD1.x
  // values (pad with <|endoftext|>); SD2.x and SDXL's tokenizer_2 say pad_token "!".
  std::string bos_token = "<|startoftext|>";
  std::string eos_token = "<|endoftext|>";
  std::string unk_token = "<|endoftext|>";
  std::string pad_token = "<|endoftext|>";
  // Every CLIP text encoder has 77 positions; HF's "unset" sentinel (1e30) also means 77.
  int model_max_length = 77;
  // "added_tokens_decoder" of newer files: id -> token text.
  std::vector<std::pair<int32_t, std::string>> added_tokens;
};

// Reads <dir>/tokenizer_config.json and <dir>/special_tokens_map.json, each optional, with
// Hugging Face's precedence: without "added_tokens_decoder" in tokenizer_config.json, entries
// of special_tokens_map.json override it. A token may be written as a string or as an
// AddedToken object {"content": ...}. Throws sd::Error naming the file for malformed JSON or a
// field of the wrong type. An empty `dir` gives the defaults.
TokenizerConfig read_tokenizer_config(const std::string& dir);

}  // namespace sd::text
