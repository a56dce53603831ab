#pragma once
// The character classes and the lowercasing that the CLIP tokenizer's Python reference relies
// on, reproduced exactly: Python's str.isspace/str.lower and the `regex` module's \s, \p{L},
// \p{N}. Categories come from utf8proc.
#include <string>
#include <string_view>

namespace sd::text {

// \p{L}: Lu, Ll, Lt, Lm, Lo.
bool is_letter(char32_t c);
// \p{N}: Nd, Nl, No.
bool is_number(char32_t c);
// Python str.isspace(): what str.strip() removes (includes U+001C..U+001F).
bool is_python_space(char32_t c);
// \s of the `regex` module: the Unicode White_Space property (excludes U+001C..U+001F).
bool is_regex_space(char32_t c);
// \w of Python's `re` for \b: letters, numbers and '_'.
bool is_word_char(char32_t c);

// Python's str.lower(): full lowercase mapping (U+0130 -> "i\u0307") and the Final_Sigma rule
// for U+03A3; everything else is the simple mapping.
std::u32string python_lower(std::u32string_view s);

}  // namespace sd::text
