#pragma once
// The real CLIP vocabulary (third-party data, SD_TEST_DATA/clip) with a fixture model's
// tokenizer configuration, for the tokenizer tests.
#include <memory>
#include <string>

#include "support/test_support.h"
#include "text/clip_bpe.h"
#include "text/clip_tokenizer.h"
#include "text/tokenizer_config.h"

namespace sd::test {

inline std::string clip_vocab_dir() { return data_dir() + "/clip"; }

// `tokenizer_dir` is relative to fixtures_dir(), e.g. "tiny-sd15/tokenizer". The vocabulary is
// read once per test program and shared, as a pipeline shares it between SDXL's two tokenizers.
inline text::ClipTokenizer load_clip_tokenizer(const std::string& tokenizer_dir) {
  static const std::shared_ptr<const text::ClipBpe> bpe =
      text::ClipBpe::load(clip_vocab_dir() + "/vocab.json", clip_vocab_dir() + "/merges.txt");
  return text::ClipTokenizer(bpe, text::read_tokenizer_config(fixtures_dir() + "/" + tokenizer_dir));
}

}  // namespace sd::test
