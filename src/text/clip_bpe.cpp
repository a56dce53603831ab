#include "text/clip_bpe.h"

#include <functional>
#include <limits>
#include <queue>

#include "core/error.h"
#include "io/json_file.h"
#include "io/read_file.h"
#include "text/utf8.h"

namespace sd::text {

namespace {

constexpr std::string_view kStartOfText = "<|startoftext|>";
constexpr std::string_view kEndOfText = "<|endoftext|>";
constexpr std::string_view kEndOfWord = "</w>";
// The reference keeps merges.txt lines [1, 49152 - 256 - 2 + 1): line 0 is the "#version"
// header, and the vocabulary is 256 bytes x 2 + merges + 2 specials = 49408.
constexpr size_t kMaxMerges = 49152 - 256 - 2;
// CLIP's merges.txt is 0.5 MB; the file is refused unread beyond this.
constexpr uint64_t kMaxMergesFileBytes = uint64_t(16) << 20;
// Cache limits: many distinct words (a server runs for weeks), and no huge words.
constexpr size_t kCacheMaxEntries = 1 << 16;
constexpr size_t kCacheMaxWordBytes = 64;

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::vector<std::string_view> split_ascii_whitespace(std::string_view line) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_ascii_space(line[i])) ++i;
    const size_t b = i;
    while (i < line.size() && !is_ascii_space(line[i])) ++i;
    if (i > b) parts.push_back(line.substr(b, i - b));
  }
  return parts;
}

// The merge pairs of merges.txt as the reference reads them:
// open(...).read().strip().split("\n")[1:kMaxMerges + 1], each line two symbols.
std::vector<std::pair<std::string_view, std::string_view>> merge_lines(std::string_view text,
                                                                       const std::string& origin) {
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  std::string_view rest(text);
  while (!rest.empty() && is_ascii_space(rest.front())) rest.remove_prefix(1);
  while (!rest.empty() && is_ascii_space(rest.back())) rest.remove_suffix(1);
  size_t line_no = 0;
  while (!rest.empty() && pairs.size() < kMaxMerges) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line_no++ == 0) continue;
    const auto parts = split_ascii_whitespace(line);
    if (parts.size() != 2)
      throw Error(origin + ": line " + std::to_string(line_no) + ": expected two space-separated symbols");
    pairs.emplace_back(parts[0], parts[1]);
  }
  if (pairs.empty()) throw Error(origin + ": no merges");
  return pairs;
}

}  // namespace

char32_t byte_to_unicode(uint8_t b) {
  // Printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes
  // take U+0100, U+0101, ... in byte order.
  auto printable = [](int x) {
    return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
  };
  if (printable(b)) return b;
  char32_t n = 0;
  for (int x = 0; x < b; ++x)
    if (!printable(x)) ++n;
  return 0x100 + n;
}

std::shared_ptr<const ClipBpe> ClipBpe::load(const std::string& vocab_json_path,
                                             const std::string& merges_txt_path) {
  std::shared_ptr<ClipBpe> bpe(new ClipBpe());

  const io::Json vocab = io::read_json_file(vocab_json_path);
  if (!vocab.is_object()) throw Error(vocab_json_path + ": expected an object of token -> id");
  bpe->vocab_.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const auto& v = it.value();
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > std::numeric_limits<int32_t>::max())
      throw Error(vocab_json_path + ": token \"" + it.key() + "\" has an id that is not a non-negative integer");
    bpe->vocab_.emplace(it.key(), int32_t(v.get<int64_t>()));
  }
  bpe->build_merges(io::read_file_bounded(merges_txt_path, kMaxMergesFileBytes, "a merges.txt"), merges_txt_path);
  return bpe;
}

std::shared_ptr<const ClipBpe> ClipBpe::from_merges(std::string_view merges_text, const std::string& origin) {
  std::shared_ptr<ClipBpe> bpe(new ClipBpe());
  // The byte symbols in bytes_to_unicode's dict order: the bytes that stand for themselves
  // (their code point equals the byte) first, then the others, each group in byte order.
  std::vector<std::string> byte_symbols;
  for (bool printable : {true, false})
    for (int b = 0; b < 256; ++b)
      if ((byte_to_unicode(uint8_t(b)) == char32_t(b)) == printable) {
        std::string s;
        append_utf8(s, byte_to_unicode(uint8_t(b)));
        byte_symbols.push_back(std::move(s));
      }
  int32_t next_id = 0;
  for (const char* suffix : {"", "</w>"})
    for (const std::string& s : byte_symbols) bpe->vocab_.insert_or_assign(s + suffix, next_id++);
  // As the reference's dict(zip(vocab, range(len(vocab)))): a repeated string keeps its last id.
  for (const auto& [left, right] : merge_lines(merges_text, origin))
    bpe->vocab_.insert_or_assign(std::string(left) + std::string(right), next_id++);
  bpe->vocab_.insert_or_assign(std::string(kStartOfText), next_id++);
  bpe->vocab_.insert_or_assign(std::string(kEndOfText), next_id++);
  bpe->build_merges(merges_text, origin);
  return bpe;
}

void ClipBpe::build_merges(std::string_view merges_text, const std::string& origin) {
  const auto unk = token_id(kEndOfText);
  if (!unk) throw Error(origin + ": no \"<|endoftext|>\" token: not a CLIP vocabulary");
  unk_id_ = *unk;

  symbol_ids_.reserve(2 * vocab_.size());
  symbol_vocab_id_.reserve(2 * vocab_.size());
  merges_.reserve(kMaxMerges);
  for (int b = 0; b < 256; ++b) {
    std::string s;
    append_utf8(s, byte_to_unicode(uint8_t(b)));
    byte_symbol_[b][0] = intern(s);
    byte_symbol_[b][1] = intern(s + std::string(kEndOfWord));
  }
  int32_t rank = 0;
  for (const auto& [left_text, right_text] : merge_lines(merges_text, origin)) {
    const std::string left(left_text), right(right_text);
    const int32_t l = intern(left), r = intern(right);
    const int32_t merged = intern(left + right);
    merges_[pair_key(l, r)] = Merge{rank++, merged};  // a repeated pair keeps its last rank
  }
}

int32_t ClipBpe::intern(const std::string& symbol) {
  auto [it, inserted] = symbol_ids_.emplace(symbol, int32_t(symbol_vocab_id_.size()));
  if (inserted) {
    auto v = vocab_.find(symbol);
    symbol_vocab_id_.push_back(v == vocab_.end() ? unk_id_ : v->second);
  }
  return it->second;
}

const ClipBpe::Merge* ClipBpe::find_merge(int32_t left, int32_t right) const {
  auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

std::optional<int32_t> ClipBpe::token_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

// The reference repeatedly takes the lowest-ranked adjacent pair and merges all of its
// non-overlapping occurrences left to right, then recomputes the pairs. Here the pairs live in
// a heap ordered by (rank, position): all entries of the lowest rank are taken as one batch
// and merged in position order, skipping those a previous merge consumed, and pairs created by
// a merge wait for the next batch. Same result, O(n log n) instead of O(n^2) per word.
std::vector<int32_t> ClipBpe::bpe(std::string_view word) const {
  const int n = int(word.size());
  std::vector<int32_t> sym(n);
  std::vector<int> next(n), prev(n);
  for (int i = 0; i < n; ++i) {
    sym[i] = byte_symbol_[uint8_t(word[i])][i == n - 1];
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }

  struct Candidate {
    int32_t rank;
    int pos;  // index of the left symbol's first byte
    int32_t left, right;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push_pair = [&](int pos) {
    if (pos < 0 || next[pos] < 0) return;
    if (const Merge* m = find_merge(sym[pos], sym[next[pos]]))
      heap.push(Candidate{m->rank, pos, sym[pos], sym[next[pos]]});
  };
  for (int i = 0; i + 1 < n; ++i) push_pair(i);

  std::vector<Candidate> batch;
  while (!heap.empty()) {
    const int32_t rank = heap.top().rank;
    batch.clear();
    while (!heap.empty() && heap.top().rank == rank) {
      batch.push_back(heap.top());
      heap.pop();
    }
    for (const Candidate& c : batch) {
      const int right = next[c.pos];
      // Stale: the left symbol was absorbed or grew, or its neighbour changed.
      if (sym[c.pos] != c.left || right < 0 || sym[right] != c.right) continue;
      sym[c.pos] = find_merge(c.left, c.right)->merged;
      sym[right] = -1;
      next[c.pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = c.pos;
      push_pair(prev[c.pos]);
      push_pair(c.pos);
    }
  }

  std::vector<int32_t> ids;
  for (int i = 0; i >= 0 && n > 0; i = next[i]) ids.push_back(symbol_vocab_id_[size_t(sym[i])]);
  return ids;
}

void ClipBpe::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  if (word == kStartOfText || word == kEndOfText) {
    ids.push_back(token_id(word).value_or(unk_id_));
    return;
  }
  const bool cacheable = word.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(std::string(word));
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> word_ids = bpe(word);
  ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(word_ids));
  }
}

}  // namespace sd::text
