#include "text/clip_tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "text/builtin_clip_vocabulary.h"
#include "text/clip_pretokenize.h"
#include "text/utf8.h"

namespace sd::text {

namespace {

namespace fs = std::filesystem;

int32_t special_id(const ClipBpe& bpe, const TokenizerConfig& cfg, const std::string& token,
                   const char* role) {
  for (const auto& [id, text] : cfg.added_tokens)
    if (text == token) return id;
  if (auto id = bpe.token_id(token)) return *id;
  throw Error(std::string("tokenizer: ") + role + " \"" + token + "\" is not in vocab.json");
}

}  // namespace

std::shared_ptr<const ClipBpe> ClipTokenizer::load_vocabulary(const std::string& config_dir,
                                                              const std::string& vocab_dir) {
  const std::string dir = vocab_dir.empty() ? config_dir : vocab_dir;
  const fs::path vocab = fs::path(dir) / "vocab.json", merges = fs::path(dir) / "merges.txt";
  std::error_code ec;
  const bool has_vocab = !dir.empty() && fs::exists(vocab, ec), has_merges = !dir.empty() && fs::exists(merges, ec);
  // A folder the user named must hold the files; a model's own folder may lack both.
  if (vocab_dir.empty() && !has_vocab && !has_merges) return builtin_clip_bpe();
  if (!has_vocab || !has_merges)
    throw Error((has_vocab ? merges : vocab).string() + ": missing (a CLIP vocabulary needs both vocab.json and merges.txt)");
  return ClipBpe::load(vocab.string(), merges.string());
}

ClipTokenizer ClipTokenizer::load(const std::string& config_dir, const std::string& vocab_dir) {
  return ClipTokenizer(load_vocabulary(config_dir, vocab_dir), read_tokenizer_config(config_dir));
}

ClipTokenizer::ClipTokenizer(std::shared_ptr<const ClipBpe> bpe, const TokenizerConfig& cfg)
    : bpe_(std::move(bpe)), max_length_(cfg.model_max_length) {
  SD_CHECK(bpe_ != nullptr, "no BPE model");
  bos_id_ = special_id(*bpe_, cfg, cfg.bos_token, "bos_token");
  eos_id_ = special_id(*bpe_, cfg, cfg.eos_token, "eos_token");
  pad_id_ = special_id(*bpe_, cfg, cfg.pad_token, "pad_token");
  const int32_t unk_id = special_id(*bpe_, cfg, cfg.unk_token, "unk_token");

  auto add_split = [this](const std::string& token, int32_t id) {
    std::u32string text = decode_utf8_lossy(token);
    if (text.empty()) return;
    for (const SplitToken& t : split_tokens_)
      if (t.text == text) return;
    split_tokens_.push_back({std::move(text), id});
  };
  for (const auto& [id, text] : cfg.added_tokens) add_split(text, id);
  add_split(cfg.bos_token, bos_id_);
  add_split(cfg.eos_token, eos_id_);
  add_split(cfg.unk_token, unk_id);
  add_split(cfg.pad_token, pad_id_);
  std::stable_sort(split_tokens_.begin(), split_tokens_.end(),
                   [](const SplitToken& a, const SplitToken& b) { return a.text.size() > b.text.size(); });
}

void ClipTokenizer::encode_plain(std::u32string_view text, std::vector<int32_t>& ids) const {
  if (text.empty()) return;
  for (const std::string& word : clip_pretokenize(clip_clean_text(text))) bpe_->encode_word(word, ids);
}

std::vector<int32_t> ClipTokenizer::encode(std::string_view text) const {
  const std::u32string s = decode_utf8_lossy(text);
  std::vector<int32_t> ids;
  size_t begin = 0;  // start of the text not yet encoded
  size_t i = 0;
  while (i < s.size()) {
    const SplitToken* hit = nullptr;
    for (const SplitToken& t : split_tokens_) {
      if (std::u32string_view(s).substr(i, t.text.size()) == t.text) {
        hit = &t;
        break;
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    encode_plain(std::u32string_view(s).substr(begin, i - begin), ids);
    ids.push_back(hit->id);
    i += hit->text.size();
    begin = i;
  }
  encode_plain(std::u32string_view(s).substr(begin), ids);
  return ids;
}

std::vector<int32_t> ClipTokenizer::encode_with_bos_eos(std::string_view text) const {
  std::vector<int32_t> ids{bos_id_};
  const std::vector<int32_t> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(eos_id_);
  return ids;
}

std::vector<int32_t> ClipTokenizer::encode_padded(std::string_view text) const {
  std::vector<int32_t> body = encode(text);
  body.resize(std::min(body.size(), size_t(max_length_ - 2)));
  std::vector<int32_t> ids;
  ids.reserve(size_t(max_length_));
  ids.push_back(bos_id_);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(eos_id_);
  ids.resize(size_t(max_length_), pad_id_);
  return ids;
}

}  // namespace sd::text
