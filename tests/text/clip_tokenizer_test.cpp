// The CLIP tokenizer against the ids Hugging Face's CLIPTokenizer gave in the fixtures.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "support/test_support.h"
#include "text/clip_tokenizer.h"
#include "text/clip_data.h"

namespace sd::text {
namespace {

using sd::test::fixtures_dir;
using sd::test::load_clip_tokenizer;
using Ids = std::vector<int32_t>;

io::Json vectors_file() { return io::read_json_file(fixtures_dir() + "/tokenizer_vectors.json"); }

Ids to_ids(const io::Json& list) {
  Ids ids;
  for (const auto& v : list) ids.push_back(v.get<int32_t>());
  return ids;
}

// Row `row` of an int64 [2,77] `*.input_ids` tensor of a reference file.
Ids reference_row(const std::string& model, const std::string& key, int row) {
  const auto file = io::SafetensorsFile::open(fixtures_dir() + "/" + model + "/reference.safetensors");
  const Tensor t = file.load(key, DType::I64);
  EXPECT_EQ(t.shape().str(), Shape({2, 77}).str());
  const int64_t* p = t.data<int64_t>() + row * 77;
  return Ids(p, p + 77);
}

TEST(ClipTokenizer, PublishedVectorsExact) {
  SD_SKIP_WITHOUT_DATA("clip");
  // The loader as a pipeline calls it: config from the model folder, vocabulary from an override.
  const auto tok = ClipTokenizer::load(fixtures_dir() + "/tiny-sd15/tokenizer", sd::test::clip_vocab_dir());
  const io::Json v = vectors_file();
  ASSERT_EQ(v["bos_id"].get<int32_t>(), tok.bos_id());
  ASSERT_EQ(v["eos_id"].get<int32_t>(), tok.eos_id());
  ASSERT_GE(v["vectors"].size(), 19u);
  for (auto it = v["vectors"].begin(); it != v["vectors"].end(); ++it)
    EXPECT_EQ(tok.encode_with_bos_eos(it.key()), to_ids(it.value())) << "prompt: \"" << it.key() << "\"";
}

TEST(ClipTokenizer, PaddedVectorsExact) {
  SD_SKIP_WITHOUT_DATA("clip");
  const io::Json padded = vectors_file()["padded"];
  const auto sd1 = load_clip_tokenizer("tiny-sd15/tokenizer");
  const auto sd2 = load_clip_tokenizer("tiny-sd21v/tokenizer");
  EXPECT_EQ(sd1.pad_id(), 49407);
  EXPECT_EQ(sd2.pad_id(), 0);
  for (const char* key : {"sd1_pad_eos", "sd1_empty", "truncation_sd1"}) {
    const auto& c = padded[key];
    ASSERT_EQ(c["pad_id"].get<int32_t>(), sd1.pad_id()) << key;
    EXPECT_EQ(sd1.encode_padded(c["prompt"].get<std::string>()), to_ids(c["ids"])) << key;
  }
  for (const char* key : {"sd2_pad_bang", "sd2_empty"}) {
    const auto& c = padded[key];
    ASSERT_EQ(c["pad_id"].get<int32_t>(), sd2.pad_id()) << key;
    EXPECT_EQ(sd2.encode_padded(c["prompt"].get<std::string>()), to_ids(c["ids"])) << key;
  }
}

TEST(ClipTokenizer, TruncatesToBosPlus75PlusEos) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  const io::Json file = vectors_file();
  const io::Json& c = file["padded"]["truncation_sd1"];
  const std::string prompt = c["prompt"].get<std::string>();
  EXPECT_EQ(tok.encode_with_bos_eos(prompt).size(), c["untruncated_length"].get<size_t>());
  const Ids ids = tok.encode_padded(prompt);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids.front(), tok.bos_id());
  EXPECT_EQ(ids.back(), tok.eos_id());
  const Ids full = tok.encode(prompt);
  EXPECT_EQ(Ids(ids.begin() + 1, ids.end() - 1), Ids(full.begin(), full.begin() + 75));
}

struct ReferenceCase {
  const char* model;
  const char* tokenizer;
  const char* key;
};

TEST(ClipTokenizer, ReferenceInputIdsExact) {
  SD_SKIP_WITHOUT_DATA("clip");
  const ReferenceCase cases[] = {
      {"tiny-sd15", "tokenizer", "te.input_ids"},
      {"tiny-sd21v", "tokenizer", "te.input_ids"},
      {"tiny-sdxl", "tokenizer", "te1.input_ids"},
      {"tiny-sdxl", "tokenizer_2", "te2.input_ids"},
  };
  for (const auto& c : cases) {
    const auto tok = load_clip_tokenizer(std::string(c.model) + "/" + c.tokenizer);
    EXPECT_EQ(tok.encode_padded(""), reference_row(c.model, c.key, 0)) << c.model << " " << c.key;
    EXPECT_EQ(tok.encode_padded("a photo of a cat"), reference_row(c.model, c.key, 1)) << c.model << " " << c.key;
  }
}

TEST(ClipTokenizer, PadTokenBangIsSplitOutLikeHuggingFace) {
  SD_SKIP_WITHOUT_DATA("clip");
  // diffusers issue #4153: with pad_token "!" (SD2.x, SDXL tokenizer_2) Hugging Face treats "!"
  // as a special token, so each "!" is id 0; with SD1's pad the same text is BPE-encoded.
  const auto sd1 = load_clip_tokenizer("tiny-sd15/tokenizer");
  const auto sd2 = load_clip_tokenizer("tiny-sdxl/tokenizer_2");
  EXPECT_EQ(sd1.encode("! !! !!!"), (Ids{256, 748, 995}));
  EXPECT_EQ(sd2.encode("! !! !!!"), (Ids{0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(sd2.encode("Hello, world!"), (Ids{3306, 267, 1002, 0}));
}

TEST(ClipTokenizer, SpecialTokenTextEncodesAsSpecialIds) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  EXPECT_EQ(tok.encode("<|startoftext|><|endoftext|>"), (Ids{49406, 49407}));
  EXPECT_EQ(tok.encode("<|endoftext|> <|startoftext|> <|endoftext|>"), (Ids{49407, 49406, 49407}));
  // Case-insensitively matched after lowercasing, and after HTML unescaping.
  EXPECT_EQ(tok.encode("<|ENDOFTEXT|>"), (Ids{49407}));
  EXPECT_EQ(tok.encode("&lt;|endoftext|&gt;"), (Ids{49407}));
  // A special token inside a word splits it.
  const Ids cat = tok.encode("cat");
  Ids expected = cat;
  expected.push_back(49407);
  expected.insert(expected.end(), cat.begin(), cat.end());
  EXPECT_EQ(tok.encode("cat<|endoftext|>cat"), expected);
  // Only special tokens: still BOS + them + EOS + padding, nothing dropped.
  const Ids padded = tok.encode_padded("<|startoftext|><|startoftext|>");
  EXPECT_EQ(Ids(padded.begin(), padded.begin() + 5), (Ids{49406, 49406, 49406, 49407, 49407}));
}

TEST(ClipTokenizer, UnicodeCasesTokenizeAsTheReference) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  // Values from a Python reference (OpenAI simple_tokenizer code with Hugging Face's
  // special-token split, no ftfy) on the same strings.
  EXPECT_EQ(tok.encode("\u039f\u0394\u039f\u03a3"), (Ids{138, 123, 138, 112, 138, 123, 139, 480}));
  EXPECT_EQ(tok.encode("caf\xc3" "\xa9 \xff"), (Ids{15304, 39802}));
  EXPECT_EQ(tok.encode("a\xed\xa0\x80" "b"), tok.encode("a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "b"));
}

TEST(ClipTokenizer, ConcurrentEncodingGivesTheSameIds) {
  SD_SKIP_WITHOUT_DATA("clip");
  // The per-word cache is shared: several request threads may tokenize at once.
  const auto tok = load_clip_tokenizer("tiny-sd15/tokenizer");
  const io::Json v = vectors_file()["vectors"];
  std::vector<std::string> prompts;
  std::vector<Ids> expected;
  for (auto it = v.begin(); it != v.end(); ++it) {
    prompts.push_back(it.key());
    expected.push_back(to_ids(it.value()));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < prompts.size(); ++i)
          if (tok.encode_with_bos_eos(prompts[(i + size_t(t)) % prompts.size()]) != expected[(i + size_t(t)) % prompts.size()])
            ++mismatches[size_t(t)];
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(ClipTokenizer, MissingVocabularyNamesTheFile) {
  const std::string empty = sd::test::temp_dir("no-vocab");
  try {
    ClipTokenizer::load(fixtures_dir() + "/tiny-sd15/tokenizer", empty);
    FAIL() << "expected sd::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sd::text
