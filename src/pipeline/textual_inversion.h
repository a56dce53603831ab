#pragma once
// Textual-inversion embeddings used by name in prompts (--embeddings-dir), with A1111's
// semantics: wherever a prompt holds the token sequence of an embedding's name (its file
// name without ".safetensors"), the text encoder sees the embedding's vectors instead.
// Only files directly inside the operator's folder are read, and only those that fit the
// loaded model's text encoders are offered; the others are skipped with a log line.
#include <array>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "loaders/model_set.h"
#include "pipeline/pipeline.h"
#include "text/prompt_chunks.h"

namespace sd::pipeline {

inline constexpr size_t kMaxEmbeddingFiles = 1000;

class TextualInversions {
 public:
  // What one text encoder sees: the names' ids replaced by added-token ids, and the added
  // tokens' embeddings ([N, hidden] float32, undefined when there are none).
  struct EncoderTokens {
    std::vector<text::TokenSubstitution> substitutions;
    Tensor added_tokens;
  };

  TextualInversions() = default;
  // Every usable embedding in `dir` (empty: none). Throws sd::Error when `dir` is not a
  // folder; a file that cannot be used is skipped.
  static TextualInversions load(const std::string& dir, const ModelSet& model);

  // The embeddings a prompt can use, sorted by name.
  const std::vector<EmbeddingInfo>& loaded() const { return loaded_; }
  // Those read but not fitting the model's text encoders (or whose name has no tokens);
  // files that could not be read are in neither, only in the log.
  const std::vector<EmbeddingInfo>& skipped() const { return skipped_; }
  // encoder 0: the (first) text encoder; 1: SDXL's second.
  const EncoderTokens& encoder(int index) const { return encoders_[size_t(index)]; }

 private:
  std::vector<EmbeddingInfo> loaded_, skipped_;
  std::array<EncoderTokens, 2> encoders_;
};

}  // namespace sd::pipeline
