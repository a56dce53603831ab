#include "text/clip_pretokenize.h"

#include "text/html_unescape.h"
#include "text/unicode_class.h"
#include "text/utf8.h"

namespace sd::text {

namespace {

// U+0345 COMBINING GREEK YPOGEGRAMMENI case-folds to a letter (ι), so under IGNORECASE the
// `regex` module's [\p{L}] and its negation [^\s\p{L}\p{N}] both reject it: no alternative
// matches it and it is skipped like whitespace.
constexpr char32_t kYpogegrammeni = 0x0345;

// One character of a pattern literal, compared case-insensitively. The text is already
// lowercase; the only other character that simple case folding maps onto one of these ASCII
// letters is U+017F LONG S (folds to 's').
bool literal_char_matches(char32_t c, char lit) {
  if (c == char32_t(lit)) return true;
  return lit == 's' && c == 0x017F;
}

// Length of `lit` matched at s[i], or 0.
size_t match_literal(std::u32string_view s, size_t i, std::string_view lit) {
  if (s.size() - i < lit.size()) return 0;
  for (size_t k = 0; k < lit.size(); ++k)
    if (!literal_char_matches(s[i + k], lit[k])) return 0;
  return lit.size();
}

// The literal alternatives of the pattern, in the pattern's order (first match wins).
constexpr std::string_view kLiterals[] = {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re",
                                          "'ve", "'m", "'ll", "'d"};

bool is_symbol_char(char32_t c) {
  return !is_regex_space(c) && !is_letter(c) && !is_number(c) && c != kYpogegrammeni;
}

// Python's str.strip(): drops leading and trailing whitespace.
std::u32string_view python_strip(std::u32string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_python_space(s[b])) ++b;
  while (e > b && is_python_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::u32string clip_clean_text(std::u32string_view text) {
  // basic_clean (minus ftfy): html.unescape(html.unescape(text)).strip()
  const std::u32string unescaped = html_unescape(html_unescape(text));
  const std::u32string_view stripped = python_strip(unescaped);
  // whitespace_clean: re.sub(r"\s+", " ", text).strip(); then .lower()
  std::u32string collapsed;
  collapsed.reserve(stripped.size());
  for (size_t i = 0; i < stripped.size();) {
    if (is_regex_space(stripped[i])) {
      collapsed.push_back(' ');
      while (i < stripped.size() && is_regex_space(stripped[i])) ++i;
    } else {
      collapsed.push_back(stripped[i++]);
    }
  }
  return python_lower(python_strip(collapsed));
}

std::vector<std::string> clip_pretokenize(std::u32string_view s) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    for (std::string_view lit : kLiterals) {
      len = match_literal(s, i, lit);
      if (len != 0) break;
    }
    if (len == 0) {
      const char32_t c = s[i];
      if (is_letter(c)) {
        len = 1;
        while (i + len < s.size() && is_letter(s[i + len])) ++len;
      } else if (is_number(c)) {
        len = 1;
      } else if (is_symbol_char(c)) {
        len = 1;
        while (i + len < s.size() && is_symbol_char(s[i + len])) ++len;
      } else {
        ++i;  // whitespace (or U+0345): no match starts here
        continue;
      }
    }
    words.push_back(encode_utf8(s.substr(i, len)));
    i += len;
  }
  return words;
}

}  // namespace sd::text
