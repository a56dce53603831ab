#include "text/prompt_attention.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "text/unicode_class.h"
#include "text/utf8.h"

namespace sd::text {

namespace {

constexpr double kRoundMultiplier = 1.1;
constexpr double kSquareMultiplier = 1 / 1.1;
constexpr size_t kMaxWeightUpdates = size_t(1) << 25;

struct Piece {
  std::u32string text;
  double weight;
  bool is_break;
};

class Parser {
 public:
  explicit Parser(std::u32string_view s) : s_(s) {}

  std::vector<Piece> run() {
    size_t i = 0;
    while (i < s_.size()) i = step(i);
    for (size_t pos : round_) multiply_range(pos, kRoundMultiplier);
    for (size_t pos : square_) multiply_range(pos, kSquareMultiplier);
    if (res_.empty()) res_.push_back({U"", 1.0, false});
    return std::move(res_);
  }

 private:
  // One match of A1111's re_attention at s_[i]; returns where the next match starts.
  size_t step(size_t i) {
    const char32_t c = s_[i];
    if (c == '\\') {
      const bool escaped = i + 1 < s_.size() && (s_[i + 1] == '(' || s_[i + 1] == ')' ||
                                                  s_[i + 1] == '[' || s_[i + 1] == ']' || s_[i + 1] == '\\');
      res_.push_back({escaped ? std::u32string(1, s_[i + 1]) : U"", 1.0, false});
      return i + (escaped ? 2 : 1);
    }
    if (c == '(') {
      round_.push_back(res_.size());
      return i + 1;
    }
    if (c == '[') {
      square_.push_back(res_.size());
      return i + 1;
    }
    if (c == ':') {
      double weight = 0;
      const size_t end = match_weight(i, weight);
      if (end == 0) {
        add_text(U":");
        return i + 1;
      }
      if (!round_.empty()) {
        multiply_range(round_.back(), weight);
        round_.pop_back();
      } else {
        add_text(s_.substr(i, end - i));
      }
      return end;
    }
    if (c == ')' && !round_.empty()) {
      multiply_range(round_.back(), kRoundMultiplier);
      round_.pop_back();
      return i + 1;
    }
    if (c == ']' && !square_.empty()) {
      multiply_range(square_.back(), kSquareMultiplier);
      square_.pop_back();
      return i + 1;
    }
    if (c == ')' || c == ']') {
      add_text(s_.substr(i, 1));
      return i + 1;
    }
    size_t j = i;
    while (j < s_.size() && !is_syntax(s_[j])) ++j;
    add_text(s_.substr(i, j - i));
    return j;
  }

  static bool is_syntax(char32_t c) {
    return c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == ':';
  }

  // :\s*([+-]?[.\d]+)\s*\)  at s_[i] == ':'. Returns the end of the match, or 0 when there is
  // none or the number does not parse.
  size_t match_weight(size_t i, double& weight) const {
    size_t j = i + 1;
    while (j < s_.size() && is_python_space(s_[j])) ++j;
    const size_t num_begin = j;
    if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
    const size_t digits_begin = j;
    while (j < s_.size() && (s_[j] == '.' || (s_[j] >= '0' && s_[j] <= '9'))) ++j;
    if (j == digits_begin) return 0;
    const size_t num_end = j;
    while (j < s_.size() && is_python_space(s_[j])) ++j;
    if (j >= s_.size() || s_[j] != ')') return 0;

    std::string number;
    for (size_t k = num_begin; k < num_end; ++k) number.push_back(char(s_[k]));
    const char* first = number.data();
    if (*first == '+') ++first;  // from_chars takes '-' but not '+'
    const char* last = number.data() + number.size();
    auto [ptr, ec] = std::from_chars(first, last, weight);
    if (ec == std::errc::result_out_of_range) {
      // Python's float() gives +-inf or 0 here; the finiteness check reports the former.
      weight = std::strtod(number.c_str(), nullptr);
    } else if (ec != std::errc() || ptr != last) {
      return 0;
    }
    return j + 1;
  }

  // A plain-text match: split on BREAK (re_break = \s*\bBREAK\b\s*).
  void add_text(std::u32string_view text) {
    size_t part_begin = 0;
    size_t k = 0;
    while (k + 5 <= text.size()) {
      if (text.substr(k, 5) != U"BREAK" || (k > 0 && is_word_char(text[k - 1])) ||
          (k + 5 < text.size() && is_word_char(text[k + 5]))) {
        ++k;
        continue;
      }
      size_t match_begin = k;
      while (match_begin > part_begin && is_python_space(text[match_begin - 1])) --match_begin;
      size_t match_end = k + 5;
      while (match_end < text.size() && is_python_space(text[match_end])) ++match_end;
      res_.push_back({std::u32string(text.substr(part_begin, match_begin - part_begin)), 1.0, false});
      res_.push_back({U"", 1.0, true});
      part_begin = k = match_end;
    }
    res_.push_back({std::u32string(text.substr(part_begin)), 1.0, false});
  }

  void multiply_range(size_t start, double multiplier) {
    updates_ += res_.size() - start;
    if (updates_ > kMaxWeightUpdates)
      throw Error("prompt: emphasis brackets nested too deeply to evaluate");
    for (size_t p = start; p < res_.size(); ++p) res_[p].weight *= multiplier;
  }

  std::u32string_view s_;
  std::vector<Piece> res_;
  std::vector<size_t> round_, square_;
  size_t updates_ = 0;
};

}  // namespace

std::vector<PromptPiece> parse_prompt_attention(std::string_view prompt) {
  const std::u32string s = decode_utf8_lossy(prompt);
  const std::vector<Piece> pieces = Parser(s).run();

  std::vector<PromptPiece> out;
  for (const Piece& p : pieces) {
    if (!p.is_break && !std::isfinite(float(p.weight)))
      throw Error("prompt: an emphasis weight does not fit a float (" + std::to_string(p.weight) +
                  "); too many nested brackets or too large a (text:weight)");
    const bool merge = !out.empty() && !p.is_break && !out.back().is_break && out.back().weight == p.weight;
    if (merge) {
      out.back().text += encode_utf8(p.text);
    } else {
      out.push_back({encode_utf8(p.text), p.weight, p.is_break});
    }
  }
  return out;
}

}  // namespace sd::text
