// The CLIP tokenizer and A1111 prompt chunking on arbitrary prompt bytes (invalid UTF-8,
// HTML entities, special tokens, emphasis syntax), with the real vocabulary and both
// configs SD uses: SD1's (pad with <|endoftext|>) and SDXL tokenizer_2's (pad "!").
// Every chunk must be max_length ids and weights, every id inside the vocabulary.
#include <cstdlib>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "fuzz_support.h"
#include "text/prompt_chunks.h"

namespace {

constexpr int32_t kVocabSize = 49408;

std::unique_ptr<sd::text::ClipTokenizer> sd1, sdxl2;

void check(const sd::text::ClipTokenizer& tok, const std::vector<sd::text::PromptChunk>& chunks) {
  if (chunks.empty()) std::abort();
  for (const auto& c : chunks) {
    if (c.ids.size() != size_t(tok.max_length()) || c.weights.size() != c.ids.size()) std::abort();
    for (int32_t id : c.ids)
      if (id < 0 || id >= kVocabSize) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string clip = sd::fuzz::require_data("clip");
  auto bpe = sd::text::ClipBpe::load(clip + "/vocab.json", clip + "/merges.txt");
  sd1 = std::make_unique<sd::text::ClipTokenizer>(bpe, sd::text::read_tokenizer_config(""));
  sdxl2 = std::make_unique<sd::text::ClipTokenizer>(
      bpe, sd::text::read_tokenizer_config(sd::fuzz::fixtures_dir() + "/tiny-sdxl/tokenizer_2"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Up to 256 bytes: enough for three 75-token chunks; longer inputs only slow each run.
  if (size > 256) return 0;
  const std::string_view prompt(reinterpret_cast<const char*>(data), size);
  // Each entry point once, on one of the two configs (BPE dominates the time of a run).
  check(*sd1, sd::text::tokenize_prompt(*sd1, prompt));
  if (sdxl2->encode_padded(prompt).size() != size_t(sdxl2->max_length())) std::abort();
  for (const auto* tok : {sd1.get(), sdxl2.get()}) {
    try {
      check(*tok, sd::text::tokenize_weighted_prompt(*tok, prompt));
    } catch (const sd::Error&) {
      // emphasis syntax that parse_prompt_attention refuses
    }
  }
  return 0;
}
