// The CLIP vocabulary built into the binary: derived from merges alone, it must be the
// vocab.json of the third-party data exactly, and tokenize as the reference did.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "support/test_support.h"
#include "text/builtin_clip_vocabulary.h"
#include "text/clip_data.h"
#include "text/clip_tokenizer.h"

namespace sd::text {
namespace {

using sd::test::fixtures_dir;

TEST(BuiltinClipVocabulary, IsTheMergesFileOfTheSharedData) {
  SD_SKIP_WITHOUT_DATA("clip");
  EXPECT_EQ(std::string(builtin_clip_merges_text()), sd::test::read_file(sd::test::clip_vocab_dir() + "/merges.txt"));
}

TEST(BuiltinClipVocabulary, EqualsVocabJson) {
  SD_SKIP_WITHOUT_DATA("clip");
  const io::Json vocab = io::read_json_file(sd::test::clip_vocab_dir() + "/vocab.json");
  const auto bpe = builtin_clip_bpe();
  ASSERT_EQ(bpe->vocab_size(), vocab.size());
  size_t wrong = 0;
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    if (bpe->token_id(it.key()) != it.value().get<int32_t>() && ++wrong <= 5)
      ADD_FAILURE() << "token \"" << it.key() << "\": built in " << bpe->token_id(it.key()).value_or(-1)
                    << ", vocab.json " << it.value();
  EXPECT_EQ(wrong, 0u);
}

// Needs no third-party data: the fixtures' published ids, with the built-in vocabulary
// the loader falls back to for a tokenizer folder without vocab.json/merges.txt.
TEST(BuiltinClipVocabulary, TokenizesThePublishedVectors) {
  const auto tok = ClipTokenizer::load(sd::test::model_without_vocabulary("tiny-sd15") + "/tokenizer");
  const io::Json v = io::read_json_file(fixtures_dir() + "/tokenizer_vectors.json");
  EXPECT_EQ(tok.bos_id(), 49406);
  EXPECT_EQ(tok.eos_id(), 49407);
  ASSERT_GE(v["vectors"].size(), 19u);
  for (auto it = v["vectors"].begin(); it != v["vectors"].end(); ++it)
    EXPECT_EQ(tok.encode_with_bos_eos(it.key()), it.value().get<std::vector<int32_t>>()) << it.key();
}

TEST(BuiltinClipVocabulary, UsedOnlyWhenTheFolderHasNeitherFile) {
  EXPECT_EQ(ClipTokenizer::load_vocabulary(sd::test::model_without_vocabulary("tiny-sd15") + "/tokenizer"),
            builtin_clip_bpe());
  EXPECT_EQ(ClipTokenizer::load_vocabulary(""), builtin_clip_bpe());
  // Half a vocabulary is a broken folder, not a missing one.
  const std::string half = sd::test::temp_dir("half-vocab");
  {
    std::ofstream(half + "/merges.txt") << "#version: 0.2\na b\n";
  }
  const std::string msg = sd::test::error_of([&] { ClipTokenizer::load_vocabulary(half); });
  EXPECT_NE(msg.find(half + "/vocab.json: missing"), std::string::npos) << msg;
  // A folder the user names must hold the files.
  const std::string empty = sd::test::temp_dir("named-vocab");
  EXPECT_NE(sd::test::error_of([&] { ClipTokenizer::load_vocabulary("", empty); }).find("vocab.json"),
            std::string::npos);
}

TEST(BuiltinClipVocabulary, PadTokenComesFromTheModelsConfig) {
  // SD2's tokenizer pads with "!" (id 0): same vocabulary, other config.
  EXPECT_EQ(ClipTokenizer::load(fixtures_dir() + "/tiny-sd21v/tokenizer").pad_id(), 0);
  EXPECT_EQ(ClipTokenizer::load(fixtures_dir() + "/tiny-sdxl/tokenizer_2").pad_id(), 0);
  EXPECT_EQ(ClipTokenizer::load(fixtures_dir() + "/tiny-sdxl/tokenizer").pad_id(), 49407);
}

}  // namespace
}  // namespace sd::text
