#include "text/html_unescape.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace sd::text {

namespace {

struct NamedReference {
  const char* name;
  char32_t first;
  char32_t second;  // 0 when the reference is a single code point
};

constexpr NamedReference kNamedReferences[] = {
#include "text/html_entities.inc"
};

// Numeric references to C1 controls, NUL and CR are read as Windows-1252 (HTML5 "numeric
// character reference end state"), as Python's html._invalid_charrefs.
char32_t remap_invalid_charref(char32_t n, bool& remapped) {
  static constexpr char32_t kC1[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
      0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
      0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
      0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  remapped = true;
  if (n == 0x00) return 0xFFFD;
  if (n == 0x0D) return 0x0D;
  if (n >= 0x80 && n <= 0x9F) return kC1[n - 0x80];
  remapped = false;
  return n;
}

// Code points a numeric reference may not produce; Python's html._invalid_codepoints drops them.
bool is_dropped_codepoint(char32_t n) {
  return (n >= 0x01 && n <= 0x08) || n == 0x0B || (n >= 0x0E && n <= 0x1F) ||
         (n >= 0x7F && n <= 0x9F) || (n >= 0xFDD0 && n <= 0xFDEF) || (n & 0xFFFE) == 0xFFFE;
}

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_hex(char32_t c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char32_t c) {
  if (is_ascii_digit(c)) return int(c - '0');
  return int((c | 0x20) - 'a' + 10);
}

// A character allowed in a reference name by Python's pattern [^\t\n\f <&#;].
bool is_name_char(char32_t c) {
  return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
         c != ';';
}

const NamedReference* find_named(std::u32string_view name) {
  char key[40];
  if (name.size() >= sizeof(key)) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] >= 0x80) return nullptr;  // every name in the table is ASCII
    key[i] = char(name[i]);
  }
  key[name.size()] = '\0';
  auto less = [](const NamedReference& r, const char* k) { return std::strcmp(r.name, k) < 0; };
  const auto* it = std::lower_bound(std::begin(kNamedReferences), std::end(kNamedReferences), key, less);
  if (it != std::end(kNamedReferences) && std::strcmp(it->name, key) == 0) return it;
  return nullptr;
}

void append_named(std::u32string& out, const NamedReference& r) {
  out.push_back(r.first);
  if (r.second != 0) out.push_back(r.second);
}

// Handles "&#..." at s[i] == '&'. Returns the number of characters consumed (0: no match).
size_t unescape_numeric(std::u32string_view s, size_t i, std::u32string& out) {
  size_t j = i + 2;
  const bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
  if (hex) ++j;
  const size_t digits_begin = j;
  constexpr char32_t kTooLarge = 0x110000;  // any larger value behaves the same
  char32_t n = 0;
  while (j < s.size() && (hex ? is_ascii_hex(s[j]) : is_ascii_digit(s[j]))) {
    const int d = hex ? hex_value(s[j]) : int(s[j] - '0');
    n = std::min<char32_t>(kTooLarge, n * (hex ? 16 : 10) + char32_t(d));
    ++j;
  }
  if (j == digits_begin) return 0;
  if (j < s.size() && s[j] == ';') ++j;
  bool remapped = false;
  const char32_t mapped = remap_invalid_charref(n, remapped);
  if (remapped) {
    out.push_back(mapped);
  } else if ((n >= 0xD800 && n <= 0xDFFF) || n > 0x10FFFF) {
    out.push_back(0xFFFD);
  } else if (!is_dropped_codepoint(n)) {
    out.push_back(n);
  }
  return j - i;
}

// Handles "&name" at s[i] == '&'. Returns the number of characters consumed (0: no match).
size_t unescape_named(std::u32string_view s, size_t i, std::u32string& out) {
  size_t j = i + 1;
  while (j < s.size() && j - (i + 1) < 32 && is_name_char(s[j])) ++j;
  if (j == i + 1) return 0;
  if (j < s.size() && s[j] == ';') ++j;
  const std::u32string_view name = s.substr(i + 1, j - (i + 1));
  if (const NamedReference* r = find_named(name)) {
    append_named(out, *r);
    return j - i;
  }
  // Longest known prefix of at least two characters; the rest stays as text.
  for (size_t len = name.size() - 1; len >= 2 && len < name.size(); --len) {
    if (const NamedReference* r = find_named(name.substr(0, len))) {
      append_named(out, *r);
      out.append(name.substr(len));
      return j - i;
    }
  }
  out.push_back('&');
  out.append(name);
  return j - i;
}

}  // namespace

std::u32string html_unescape(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    const bool numeric = i + 1 < s.size() && s[i + 1] == '#';
    const size_t used = numeric ? unescape_numeric(s, i, out) : unescape_named(s, i, out);
    if (used == 0) {
      out.push_back('&');
      ++i;
    } else {
      i += used;
    }
  }
  return out;
}

}  // namespace sd::text
