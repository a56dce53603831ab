// Text cleaning and the pre-tokenisation pattern, against what Python (str methods and the
// `regex` module, as the Hugging Face tokenizer uses them) gives for the same strings.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "text/clip_pretokenize.h"
#include "text/utf8.h"

namespace sd::text {
namespace {

std::string clean(std::string_view utf8) { return encode_utf8(clip_clean_text(decode_utf8_lossy(utf8))); }

std::vector<std::string> words(std::string_view utf8) {
  return clip_pretokenize(clip_clean_text(decode_utf8_lossy(utf8)));
}

TEST(ClipCleanText, UnescapesStripsCollapsesAndLowercases) {
  EXPECT_EQ(clean("  Hello\u00a0\u2003World\x1c "), "hello world");
  EXPECT_EQ(clean("Tom &amp;amp; Jerry"), "tom & jerry");  // unescaped twice
  EXPECT_EQ(clean("A\t\n\r\v\fB"), "a b");
  // U+001C..U+001F are whitespace to str.strip() but not to the regex \s.
  EXPECT_EQ(clean("a\x1c" "b"), "a\x1c" "b");
  EXPECT_EQ(clean(""), "");
}

TEST(ClipCleanText, LowercasesLikePython) {
  // Final sigma: a Σ ending a word becomes ς, also before case-ignorable marks.
  EXPECT_EQ(clean("\u039f\u0394\u039f\u03a3 \u03a3 \u0391\u03a3'\u0392 \u0391\u03a3\u0301"),
            "\u03bf\u03b4\u03bf\u03c2 \u03c3 \u03b1\u03c3'\u03b2 \u03b1\u03c2\u0301");
  // İ lowercases to two code points.
  EXPECT_EQ(clean("\u0130stanbul"), "i\u0307stanbul");
  EXPECT_EQ(clean("\u00c9T\u00c9 \u0414\u0416"), "\u00e9t\u00e9 \u0434\u0436");
}

TEST(ClipPretokenize, SplitsLikeTheReferencePattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(words("don't 42 <|endoftext|>x 'ſ a\u0345b !!? caf\u00e9 12ab"),
            (V{"don", "'t", "4", "2", "<|endoftext|>", "x", "'\u017f", "a", "b", "!!?", "caf\u00e9", "1",
               "2", "ab"}));
  EXPECT_EQ(words("it's<|startoftext|>'re"), (V{"it", "'s", "<|startoftext|>", "'re"}));
  EXPECT_EQ(words("'\u017f" "a <|\u017ftartoftext|>"), (V{"'\u017f", "a", "<|\u017ftartoftext|>"}));
  EXPECT_EQ(words("masterpiece, (red:1.2)"), (V{"masterpiece", ",", "(", "red", ":", "1", ".", "2", ")"}));
  EXPECT_EQ(words("  \t "), V{});
}

}  // namespace
}  // namespace sd::text
