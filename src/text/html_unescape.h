#pragma once
// Python's html.unescape, which the CLIP tokenizer applies (twice) to every prompt: named
// references from the HTML5 table (longest known prefix for names without ';'), decimal and
// hex numeric references with the HTML5 rules for invalid numbers.
#include <string>
#include <string_view>

namespace sd::text {

std::u32string html_unescape(std::u32string_view s);

}  // namespace sd::text
