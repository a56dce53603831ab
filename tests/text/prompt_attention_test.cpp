// A1111 emphasis parsing; expected pieces and weights are what A1111's parse_prompt_attention
// returns for the same prompts (its docstring examples first).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "text/prompt_attention.h"

namespace sd::text {
namespace {

struct Expected {
  std::string text;
  double weight;
  bool is_break = false;
};

void expect_pieces(const std::string& prompt, const std::vector<Expected>& expected) {
  const std::vector<PromptPiece> got = parse_prompt_attention(prompt);
  ASSERT_EQ(got.size(), expected.size()) << "prompt: " << prompt;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].is_break, expected[i].is_break) << "prompt: " << prompt << " piece " << i;
    if (expected[i].is_break) continue;
    EXPECT_EQ(got[i].text, expected[i].text) << "prompt: " << prompt << " piece " << i;
    EXPECT_DOUBLE_EQ(got[i].weight, expected[i].weight) << "prompt: " << prompt << " piece " << i;
  }
}

const Expected kBreak{"", 0, true};

TEST(PromptAttention, A1111DocstringExamples) {
  expect_pieces("normal text", {{"normal text", 1.0}});
  expect_pieces("an (important) word", {{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}});
  expect_pieces("(unbalanced", {{"unbalanced", 1.1}});
  expect_pieces("\\(literal\\]", {{"(literal]", 1.0}});
  expect_pieces("(unnecessary)(parens)", {{"unnecessaryparens", 1.1}});
  expect_pieces("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
                {{"a ", 1.0},
                 {"house", 1.5730000000000004},
                 {" ", 1.1},
                 {"on", 1.0},
                 {" a ", 1.1},
                 {"hill", 0.55},
                 {", sun, ", 1.1},
                 {"sky", 1.4641000000000006},
                 {".", 1.1}});
}

TEST(PromptAttention, WeightsAndNesting) {
  expect_pieces("((a))", {{"a", 1.2100000000000002}});
  expect_pieces("((a:1.3))", {{"a", 1.4300000000000002}});
  expect_pieces("[[x]]", {{"x", 0.8264462809917354}});
  expect_pieces("(a [b] c:1.5)", {{"a ", 1.5}, {"b", 1.3636363636363635}, {" c", 1.5}});
  expect_pieces("(a: -0.5 )", {{"a", -0.5}});
  expect_pieces("(a:.5)", {{"a", 0.5}});
  expect_pieces("(a:+2)", {{"a", 2.0}});
  expect_pieces("(a:1.)", {{"a", 1.0}});
}

TEST(PromptAttention, EscapesAndStrayCharacters) {
  expect_pieces("\\\\(x\\\\)", {{"\\", 1.0}, {"x\\", 1.1}});
  expect_pieces("a \\ b", {{"a  b", 1.0}});  // a lone backslash is dropped
  expect_pieces("x:1.2)", {{"x:1.2)", 1.0}});  // a weight with no open bracket is text
  expect_pieces("a:b", {{"a:b", 1.0}});
  expect_pieces("(a) ]", {{"a", 1.1}, {" ]", 1.0}});
  expect_pieces("[(a)", {{"a", 1.0}});
  expect_pieces("", {{"", 1.0}});
  // Not a number: ':' stays text and ')' closes the bracket (A1111 would raise here).
  expect_pieces("(a:1.2.3)", {{"a:1.2.3", 1.1}});
}

TEST(PromptAttention, Break) {
  expect_pieces("cat BREAK dog", {{"cat", 1.0}, kBreak, {"dog", 1.0}});
  expect_pieces("BREAK", {{"", 1.0}, kBreak, {"", 1.0}});
  expect_pieces("aBREAK b", {{"aBREAK b", 1.0}});
  expect_pieces("break BREAK_ xBREAK", {{"break BREAK_ xBREAK", 1.0}});
  expect_pieces("a\u00a0BREAK\u2003b", {{"a", 1.0}, kBreak, {"b", 1.0}});
  // Inside brackets BREAK still breaks and the text around it keeps its weight.
  expect_pieces("(a BREAK b)", {{"a", 1.1}, kBreak, {"b", 1.1}});
}

TEST(PromptAttention, PlainPromptIsOnePiece) {
  const std::string prompt = "a professional photograph of an astronaut riding a horse, 4k: sharp";
  expect_pieces(prompt, {{prompt, 1.0}});
}

TEST(PromptAttention, OverflowingWeightsAreRejected) {
  std::string deep(2000, '(');
  deep += "cat";
  EXPECT_THROW(parse_prompt_attention(deep), Error);  // 1.1^2000 does not fit a float
  EXPECT_THROW(parse_prompt_attention("(cat:" + std::string(400, '9') + ")"), Error);
}

}  // namespace
}  // namespace sd::text
