#pragma once
// CLIP's byte-level BPE: vocab.json (token string -> id) and merges.txt (ranked symbol pairs),
// the bytes_to_unicode byte alphabet, and "</w>" on the last symbol of every word. Encoding
// a word gives exactly the ids of the reference's bpe() followed by the vocabulary lookup.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sd::text {

class ClipBpe {
 public:
  // Reads both files; throws sd::Error naming the file on anything malformed.
  static std::shared_ptr<const ClipBpe> load(const std::string& vocab_json_path,
                                             const std::string& merges_txt_path);
  // From merges.txt text alone: CLIP's vocab.json is derived data, ids 0..255 the byte
  // symbols, 256..511 the same with "</w>", then one id per merge in merge order, then
  // <|startoftext|> and <|endoftext|>. `origin` names the text in error messages.
  static std::shared_ptr<const ClipBpe> from_merges(std::string_view merges_text, const std::string& origin);

  // Appends the ids of one pre-tokenized word (UTF-8 bytes). The two special token texts
  // encode as their own ids, like the reference's pre-filled cache.
  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;

  // The id of a token string as written in vocab.json (e.g. "<|endoftext|>", "!").
  std::optional<int32_t> token_id(std::string_view token) const;
  size_t vocab_size() const { return vocab_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;  // symbol id of the concatenation
  };

  ClipBpe() = default;
  // Sets the unknown-token id from the vocabulary, then reads the merges.
  void build_merges(std::string_view merges_text, const std::string& origin);
  int32_t intern(const std::string& symbol);
  const Merge* find_merge(int32_t left, int32_t right) const;
  std::vector<int32_t> bpe(std::string_view word) const;

  std::unordered_map<std::string, int32_t> vocab_;
  int32_t unk_id_ = -1;  // "<|endoftext|>", what the reference returns for unknown symbols
  // Every symbol that can occur during merging, interned: base byte symbols and merge results.
  std::unordered_map<std::string, int32_t> symbol_ids_;
  std::vector<int32_t> symbol_vocab_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t byte_symbol_[256][2] = {};  // [byte][is last symbol of the word]

  // Per-word results. Bounded: a long-running server sees unbounded distinct words.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// GPT-2/CLIP bytes_to_unicode: the printable code point standing for each byte.
char32_t byte_to_unicode(uint8_t b);

}  // namespace sd::text
