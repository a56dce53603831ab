#pragma once
// The CLIP tokenizer as diffusers runs it (Hugging Face CLIPTokenizer, the slow one, without
// ftfy): prompt text -> token ids, BOS/EOS, truncation and padding to model_max_length.
//
// Invalid UTF-8 in a prompt is not an error: ill-formed bytes become U+FFFD exactly as
// Python's bytes.decode("utf-8", errors="replace") would make them (see utf8.h), and U+FFFD
// then tokenizes like any other symbol.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/clip_bpe.h"
#include "text/tokenizer_config.h"

namespace sd::text {

class ClipTokenizer {
 public:
  // config_dir: the model's tokenizer folder (tokenizer_config.json, special_tokens_map.json),
  // may be empty or absent for the SD1 defaults. vocab_dir: where vocab.json and merges.txt
  // are; empty means config_dir, and when config_dir has neither file, the built-in CLIP
  // vocabulary (builtin_clip_vocabulary.h). Throws sd::Error naming the file on any problem,
  // including one of the two files without the other.
  static ClipTokenizer load(const std::string& config_dir, const std::string& vocab_dir = "");
  // The vocabulary load() reads for these folders (the built-in one when they have none).
  static std::shared_ptr<const ClipBpe> load_vocabulary(const std::string& config_dir,
                                                        const std::string& vocab_dir = "");
  // SDXL's two tokenizers differ only in their config and can share one ClipBpe.
  ClipTokenizer(std::shared_ptr<const ClipBpe> bpe, const TokenizerConfig& config);

  // The ids of `text` without BOS/EOS, no truncation.
  std::vector<int32_t> encode(std::string_view text) const;
  // BOS + ids + EOS, no padding, no truncation.
  std::vector<int32_t> encode_with_bos_eos(std::string_view text) const;
  // diffusers' tokenizer(text, padding="max_length", max_length=model_max_length,
  // truncation=True): BOS + at most model_max_length - 2 ids + EOS, then pad_id.
  std::vector<int32_t> encode_padded(std::string_view text) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }
  int max_length() const { return max_length_; }

 private:
  // Hugging Face splits the raw text on its special and added tokens first ("<|endoftext|>",
  // and the pad token: with pad "!", as in SD2.x/SDXL tokenizer_2, every "!" in a prompt
  // becomes id 0, diffusers issue #4153); only the text between them is cleaned and BPE-encoded.
  struct SplitToken {
    std::u32string text;
    int32_t id;
  };
  void encode_plain(std::u32string_view text, std::vector<int32_t>& ids) const;

  std::shared_ptr<const ClipBpe> bpe_;
  std::vector<SplitToken> split_tokens_;  // longest first
  int32_t bos_id_ = 0, eos_id_ = 0, pad_id_ = 0;
  int max_length_ = 77;
};

}  // namespace sd::text
