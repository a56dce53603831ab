// Long prompts as 75-token chunks with BOS/EOS/padding, and emphasis weights aligned with the
// chunked ids.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "text/clip_data.h"
#include "text/prompt_chunks.h"

namespace sd::text {
namespace {

using sd::test::load_clip_tokenizer;
using Ids = std::vector<int32_t>;

// "cat" and "dog" are single tokens, so n words make n tokens.
std::string words(int n, const char* word = "cat") {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += ' ';
    s += word;
  }
  return s;
}

void expect_chunk_frame(const PromptChunk& c, const ClipTokenizer& tok, size_t tokens) {
  ASSERT_EQ(c.ids.size(), 77u);
  ASSERT_EQ(c.weights.size(), 77u);
  EXPECT_EQ(c.ids[0], tok.bos_id());
  EXPECT_EQ(c.ids[tokens + 1], tok.eos_id());
  for (size_t i = tokens + 2; i < 77; ++i) EXPECT_EQ(c.ids[i], tok.pad_id()) << "position " << i;
  EXPECT_EQ(c.weights[0], 1.0f);
  for (size_t i = tokens + 1; i < 77; ++i) EXPECT_EQ(c.weights[i], 1.0f) << "position " << i;
}

TEST(PromptChunks, ShortPromptIsOneChunkEqualToDiffusersIds) {
  SD_SKIP_WITHOUT_DATA("clip");
  for (const char* dir : {"tiny-sd15/tokenizer", "tiny-sd21v/tokenizer"}) {
    const auto tok = load_clip_tokenizer(dir);
    for (const char* prompt : {"", "a photo of a cat", "masterpiece, best quality, red: apple"}) {
      const auto plain = tokenize_prompt(tok, prompt);
      const auto weighted = tokenize_weighted_prompt(tok, prompt);
      ASSERT_EQ(plain.size(), 1u);
      ASSERT_EQ(weighted.size(), 1u);
      EXPECT_EQ(plain[0].ids, tok.encode_padded(prompt)) << dir << ": " << prompt;
      EXPECT_EQ(weighted[0].ids, tok.encode_padded(prompt)) << dir << ": " << prompt;
      EXPECT_EQ(weighted[0].weights, std::vector<float>(77, 1.0f));
    }
  }
}

TEST(PromptChunks, TwoHundredTokensMakeThreeChunks) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd21v/tokenizer");  // pad 0, distinct from EOS
  std::string prompt;
  for (int i = 0; i < 200; ++i) {
    if (i > 0) prompt += ' ';
    prompt += i % 2 ? "dog" : "cat";
  }
  const Ids all = tok.encode(prompt);
  ASSERT_EQ(all.size(), 200u);
  const auto chunks = tokenize_prompt(tok, prompt);
  ASSERT_EQ(chunks.size(), 3u);
  const size_t sizes[] = {75, 75, 50};
  size_t offset = 0;
  for (size_t k = 0; k < 3; ++k) {
    expect_chunk_frame(chunks[k], tok, sizes[k]);
    EXPECT_EQ(Ids(chunks[k].ids.begin() + 1, chunks[k].ids.begin() + 1 + sizes[k]),
              Ids(all.begin() + offset, all.begin() + offset + sizes[k]))
        << "chunk " << k;
    offset += sizes[k];
  }
  EXPECT_EQ(tokenize_weighted_prompt(tok, prompt)[2].ids, chunks[2].ids);
}

TEST(PromptChunks, ChunkBoundaries) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  EXPECT_EQ(tokenize_prompt(tok, words(75)).size(), 1u);
  EXPECT_EQ(tokenize_prompt(tok, words(75))[0].ids, tok.encode_padded(words(75)));
  EXPECT_EQ(tokenize_prompt(tok, words(76)).size(), 2u);
  EXPECT_EQ(tokenize_prompt(tok, words(150)).size(), 2u);
  EXPECT_EQ(tokenize_prompt(tok, words(151)).size(), 3u);
}

TEST(PromptChunks, WeightsFollowTheirTokens) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  const auto chunks = tokenize_weighted_prompt(tok, "a (red:1.5) [cat] on ((a mat))");
  ASSERT_EQ(chunks.size(), 1u);
  const Ids expected_ids = tok.encode_padded("a red cat on a mat");
  EXPECT_EQ(chunks[0].ids, expected_ids);
  const std::vector<float> w(chunks[0].weights.begin(), chunks[0].weights.begin() + 8);
  EXPECT_EQ(w, (std::vector<float>{1.0f, 1.0f, 1.5f, float(1 / 1.1), 1.0f, float(1.1 * 1.1), float(1.1 * 1.1), 1.0f}));
}

TEST(PromptChunks, WeightsStayAlignedAcrossChunks) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  // 70 plain tokens, then 10 weighted ones crossing the chunk boundary.
  const auto chunks = tokenize_weighted_prompt(tok, words(70) + " (" + words(10, "dog") + ":1.25)");
  ASSERT_EQ(chunks.size(), 2u);
  const int32_t dog = tok.encode("dog").at(0);
  for (int i = 1; i <= 75; ++i) {
    const bool weighted = i > 70;
    EXPECT_EQ(chunks[0].weights[i], weighted ? 1.25f : 1.0f) << i;
    EXPECT_EQ(chunks[0].ids[i] == dog, weighted) << i;
  }
  expect_chunk_frame(chunks[1], tok, 5);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(chunks[1].ids[i], dog);
    EXPECT_EQ(chunks[1].weights[i], 1.25f);
  }
}

TEST(PromptChunks, BreakStartsANewChunk) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  const auto chunks = tokenize_weighted_prompt(tok, "a cat BREAK a dog");
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].ids, tok.encode_padded("a cat"));
  EXPECT_EQ(chunks[1].ids, tok.encode_padded("a dog"));
  // A leading BREAK leaves an empty first chunk; a trailing one adds nothing (as in A1111).
  const auto lead = tokenize_weighted_prompt(tok, "BREAK cat");
  ASSERT_EQ(lead.size(), 2u);
  EXPECT_EQ(lead[0].ids, tok.encode_padded(""));
  EXPECT_EQ(tokenize_weighted_prompt(tok, "cat BREAK").size(), 1u);
  // BREAK in the plain tokenizer is just a word.
  EXPECT_EQ(tokenize_prompt(tok, "a cat BREAK a dog").size(), 1u);
}

}  // namespace
}  // namespace sd::text
