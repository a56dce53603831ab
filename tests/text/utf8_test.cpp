// Decoding untrusted prompt bytes: the U+FFFD replacements must be the ones Python's
// bytes.decode("utf-8", errors="replace") makes (expected values taken from CPython 3.11).
#include <gtest/gtest.h>

#include <string>

#include "text/utf8.h"

namespace sd::text {
namespace {

constexpr char32_t R = kReplacementChar;

struct DecodeCase {
  std::string bytes;
  std::u32string expected;
};

TEST(Utf8, DecodesLikePythonReplace) {
  const DecodeCase cases[] = {
      {"plain", U"plain"},
      {"caf\xc3\xa9", U"caf\u00e9"},
      {"\xf0\x9f\x98\x80", U"\U0001F600"},
      {"\xef\xbf\xbd", {R}},
      {"a\xff" "b", {'a', R, 'b'}},
      {"\x80\x80", {R, R}},                                  // stray continuation bytes
      {"\xc0\xaf", {R, R}},                                  // overlong '/', C0 never leads
      {"\xe0\x80\xaf", {R, R, R}},                           // overlong 3-byte form
      {"\xf0\x80\x80\x80", {R, R, R, R}},                    // overlong 4-byte form
      {"\xed\xa0\x80", {R, R, R}},                           // UTF-16 surrogate D800
      {"\xed\xbf\xbf", {R, R, R}},                           // surrogate DFFF
      {"\xf4\x90\x80\x80", {R, R, R, R}},                    // above U+10FFFF
      {"\xf8\x88\x80\x80\x80", {R, R, R, R, R}},             // 5-byte form
      {"\xe2\x82", {R}},                                     // cut short at the end
      {"\xe2\x82" "A", {R, 'A'}},                            // cut short by ASCII
      {"\xf0\x9f\x98", {R}},                                 // truncated emoji
      {"\xc2", {R}},
      {std::string("a\0b", 3), {'a', 0, 'b'}},               // NUL is a character
  };
  for (const auto& c : cases) {
    EXPECT_EQ(decode_utf8_lossy(c.bytes), c.expected) << "input bytes: " << ::testing::PrintToString(c.bytes);
  }
}

TEST(Utf8, EncodeRoundTripsEveryScalarValue) {
  std::u32string all;
  for (char32_t c = 0; c <= 0x10FFFF; ++c)
    if (c < 0xD800 || c > 0xDFFF) all.push_back(c);
  EXPECT_EQ(decode_utf8_lossy(encode_utf8(all)), all);
}

}  // namespace
}  // namespace sd::text
