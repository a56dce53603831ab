#include "text/prompt_chunks.h"

#include <algorithm>

#include "text/prompt_attention.h"

namespace sd::text {

namespace {

class Chunker {
 public:
  explicit Chunker(const ClipTokenizer& tok) : tok_(tok), capacity_(size_t(tok.max_length() - 2)) {}

  void add(const std::vector<int32_t>& ids, float weight) {
    for (int32_t id : ids) {
      if (ids_.size() == capacity_) close_chunk();
      ids_.push_back(id);
      weights_.push_back(weight);
    }
  }

  void close_chunk() {
    PromptChunk chunk;
    chunk.ids.reserve(size_t(tok_.max_length()));
    chunk.ids.push_back(tok_.bos_id());
    chunk.ids.insert(chunk.ids.end(), ids_.begin(), ids_.end());
    chunk.ids.push_back(tok_.eos_id());
    chunk.ids.resize(size_t(tok_.max_length()), tok_.pad_id());
    chunk.weights.assign(size_t(tok_.max_length()), 1.0f);
    for (size_t i = 0; i < weights_.size(); ++i) chunk.weights[i + 1] = weights_[i];
    chunks_.push_back(std::move(chunk));
    ids_.clear();
    weights_.clear();
  }

  std::vector<PromptChunk> finish() {
    if (!ids_.empty() || chunks_.empty()) close_chunk();
    return std::move(chunks_);
  }

 private:
  const ClipTokenizer& tok_;
  const size_t capacity_;
  std::vector<int32_t> ids_;
  std::vector<float> weights_;
  std::vector<PromptChunk> chunks_;
};

std::vector<int32_t> substitute(const std::vector<int32_t>& ids, std::span<const TokenSubstitution> substitutions) {
  if (substitutions.empty()) return ids;
  std::vector<int32_t> out;
  size_t i = 0;
  while (i < ids.size()) {
    const TokenSubstitution* best = nullptr;
    for (const TokenSubstitution& s : substitutions)
      if (!s.match.empty() && s.match.size() <= ids.size() - i &&
          (!best || s.match.size() > best->match.size()) &&
          std::equal(s.match.begin(), s.match.end(), ids.begin() + std::ptrdiff_t(i)))
        best = &s;
    if (best) {
      out.insert(out.end(), best->replacement.begin(), best->replacement.end());
      i += best->match.size();
    } else {
      out.push_back(ids[i++]);
    }
  }
  return out;
}

}  // namespace

std::vector<PromptChunk> tokenize_prompt(const ClipTokenizer& tokenizer, std::string_view prompt) {
  Chunker chunker(tokenizer);
  chunker.add(tokenizer.encode(prompt), 1.0f);
  return chunker.finish();
}

std::vector<PromptChunk> tokenize_weighted_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                                                  std::span<const TokenSubstitution> substitutions) {
  Chunker chunker(tokenizer);
  for (const PromptPiece& piece : parse_prompt_attention(prompt)) {
    if (piece.is_break) {
      chunker.close_chunk();
    } else {
      chunker.add(substitute(tokenizer.encode(piece.text), substitutions), float(piece.weight));
    }
  }
  return chunker.finish();
}

}  // namespace sd::text
