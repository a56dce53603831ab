// Prompts an attacker or a broken client can send: none may crash, hang or grow memory
// without bound. Ill-formed UTF-8 is replaced by U+FFFD, as Python's errors="replace" decode.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/test_support.h"
#include "text/clip_data.h"
#include "text/prompt_attention.h"
#include "text/prompt_chunks.h"

namespace sd::text {
namespace {

using sd::test::load_clip_tokenizer;
using Ids = std::vector<int32_t>;

// Under AddressSanitizer the "megabyte" prompts shrink to 64 KB: the same code paths, checked
// for memory errors, in a twentieth of the time.
#ifdef __SANITIZE_ADDRESS__
constexpr size_t kLargePrompt = 1 << 16;
#else
constexpr size_t kLargePrompt = 1 << 20;
#endif
const std::string kReplacement = "\xef\xbf\xbd";

// Every chunk is BOS + 75 tokens + EOS except the last, which is BOS + tokens + EOS + padding.
void expect_well_formed(const ClipTokenizer& tok, const std::vector<PromptChunk>& chunks) {
  ASSERT_FALSE(chunks.empty());
  for (size_t k = 0; k < chunks.size(); ++k) {
    const auto& c = chunks[k];
    ASSERT_EQ(c.ids.size(), 77u);
    ASSERT_EQ(c.weights.size(), 77u);
    ASSERT_EQ(c.ids.front(), tok.bos_id());
    if (k + 1 < chunks.size()) {
      ASSERT_EQ(c.ids.back(), tok.eos_id()) << "chunk " << k << " not full";
    }
  }
}

// Chunks must hold every token: ceil(tokens / 75) chunks.
void expect_chunks_hold(const ClipTokenizer& tok, const std::string& prompt) {
  const size_t tokens = tok.encode(prompt).size();
  const auto chunks = tokenize_prompt(tok, prompt);
  EXPECT_EQ(chunks.size(), std::max<size_t>(1, (tokens + 74) / 75));
  expect_well_formed(tok, chunks);
}

TEST(HostilePrompt, IllFormedUtf8IsReplacedLikePython) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  const std::string R = kReplacement;
  const std::pair<std::string, std::string> cases[] = {
      {"cat\xff", "cat" + R},
      {"\xc0\xaf" "cat", R + R + "cat"},                  // overlong '/'
      {"\xe0\x80\xaf", R + R + R},                        // overlong 3-byte
      {"\xed\xa0\x80 \xed\xbf\xbf", R + R + R + " " + R + R + R},  // lone surrogates
      {"\xf4\x90\x80\x80", R + R + R + R},                // above U+10FFFF
      {"a \xe2\x82 b", "a " + R + " b"},                  // truncated sequence
      {"\x80\x80\x80", R + R + R},
  };
  for (const auto& [bad, replaced] : cases) {
    EXPECT_EQ(tok.encode(bad), tok.encode(replaced)) << ::testing::PrintToString(bad);
    EXPECT_EQ(tokenize_weighted_prompt(tok, bad)[0].ids, tok.encode_padded(replaced));
  }
  EXPECT_FALSE(tok.encode("\xff").empty());  // U+FFFD is a symbol, not dropped
}

TEST(HostilePrompt, NulBytesAreCharacters) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  // NUL is byte 0, whose BPE symbol is U+0100 'Ā' (id 188, "Ā</w>" 444); the Python reference
  // gives [320, 444, 321] for "a\0b": nothing is cut at the NUL.
  EXPECT_EQ(tok.encode(std::string("a\0b", 3)), (Ids{320, 444, 321}));
  Ids nuls(1000, 188);
  nuls.back() = 444;
  EXPECT_EQ(tok.encode(std::string(1000, '\0')), nuls);
}

TEST(HostilePrompt, OnlySpecialTokens) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sdxl/tokenizer_2");
  std::string prompt;
  for (int i = 0; i < 100; ++i) prompt += "<|endoftext|><|startoftext|>!";
  const Ids ids = tok.encode(prompt);
  ASSERT_EQ(ids.size(), 300u);
  EXPECT_EQ(Ids(ids.begin(), ids.begin() + 3), (Ids{49407, 49406, 0}));
  expect_chunks_hold(tok, prompt);
  EXPECT_EQ(tokenize_weighted_prompt(tok, prompt).size(), 4u);
}

TEST(HostilePrompt, MegabytePrompts) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  std::mt19937 rng(7);
  std::string random_bytes(kLargePrompt, ' ');
  for (char& c : random_bytes) c = char(rng());
  std::string words;
  const char* vocab[] = {"cat ", "(dog:1.2) ", "[red] ", "&amp; ", "BREAK ", "caf\xc3\xa9 ", "\xf0\x9f\x98\x80 "};
  while (words.size() < kLargePrompt) words += vocab[rng() % 7];
  std::string emoji;
  while (emoji.size() < kLargePrompt) emoji += "\xf0\x9f\x98\x80";
  std::string entities;
  while (entities.size() < kLargePrompt) entities += "&amp;amp;";
  const std::string prompts[] = {
      std::string(kLargePrompt, 'a'),  // one huge word through BPE
      emoji,                           // one word of 4-byte characters
      random_bytes,
      words,
      entities,
      std::string(kLargePrompt, '!'),
      std::string(kLargePrompt, ' '),
  };
  for (const std::string& p : prompts) {
    SCOPED_TRACE(::testing::PrintToString(p.substr(0, 16)));
    expect_well_formed(tok, tokenize_prompt(tok, p));
    try {
      expect_well_formed(tok, tokenize_weighted_prompt(tok, p));
    } catch (const Error&) {
      // Rejecting an emphasis structure too deep to evaluate is allowed; crashing is not.
    }
  }
}

TEST(HostilePrompt, DeeplyNestedBrackets) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  // Deep but sane: 1.1^30 = 17.45.
  const auto ok = tokenize_weighted_prompt(tok, std::string(30, '(') + "cat" + std::string(30, ')'));
  EXPECT_FLOAT_EQ(ok[0].weights[1], 17.449402f);
  // Too deep for a float weight, balanced or not, and the quadratic "(a(a(a..." pattern:
  // clear errors, quickly.
  const std::string half(kLargePrompt / 2, '(');
  EXPECT_THROW(tokenize_weighted_prompt(tok, half + "cat" + std::string(kLargePrompt / 2, ')')), Error);
  EXPECT_THROW(tokenize_weighted_prompt(tok, std::string(kLargePrompt, '(') + "cat"), Error);
  std::string alternating;
  while (alternating.size() < kLargePrompt) alternating += "(a";
  EXPECT_THROW(tokenize_weighted_prompt(tok, alternating), Error);
  std::string alternating_square;
  while (alternating_square.size() < kLargePrompt) alternating_square += "[a]";
  EXPECT_NO_THROW(tokenize_weighted_prompt(tok, alternating_square));
  // Unmatched closers are text.
  const auto closers = tokenize_weighted_prompt(tok, std::string(1000, ')') + std::string(1000, ']'));
  for (const auto& c : closers)
    for (float w : c.weights) ASSERT_EQ(w, 1.0f);
}

}  // namespace
}  // namespace sd::text
