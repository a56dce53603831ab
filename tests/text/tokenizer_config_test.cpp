// tokenizer_config.json / special_tokens_map.json parsing: the forms real model folders use,
// the precedence Hugging Face applies, defaults, and errors that name the file.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "core/error.h"
#include "support/test_support.h"
#include "text/tokenizer_config.h"

namespace sd::text {
namespace {

using sd::test::fixtures_dir;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string error_of(const std::string& dir) {
  try {
    read_tokenizer_config(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TokenizerConfig, Sd15FixtureUsesEndOfTextPadding) {
  const TokenizerConfig cfg = read_tokenizer_config(fixtures_dir() + "/tiny-sd15/tokenizer");
  EXPECT_EQ(cfg.bos_token, "<|startoftext|>");  // an AddedToken object in the file
  EXPECT_EQ(cfg.eos_token, "<|endoftext|>");
  EXPECT_EQ(cfg.pad_token, "<|endoftext|>");   // a plain string in the file
  EXPECT_EQ(cfg.model_max_length, 77);
  EXPECT_TRUE(cfg.added_tokens.empty());
}

TEST(TokenizerConfig, Sd2AndSdxlSecondTokenizerPadWithBang) {
  EXPECT_EQ(read_tokenizer_config(fixtures_dir() + "/tiny-sd21v/tokenizer").pad_token, "!");
  EXPECT_EQ(read_tokenizer_config(fixtures_dir() + "/tiny-sdxl/tokenizer_2").pad_token, "!");
  EXPECT_EQ(read_tokenizer_config(fixtures_dir() + "/tiny-sdxl/tokenizer").pad_token, "<|endoftext|>");
}

TEST(TokenizerConfig, MissingFilesGiveSd1Defaults) {
  const TokenizerConfig cfg = read_tokenizer_config(sd::test::temp_dir("tokcfg-empty"));
  EXPECT_EQ(cfg.pad_token, "<|endoftext|>");
  EXPECT_EQ(cfg.unk_token, "<|endoftext|>");
  EXPECT_EQ(cfg.model_max_length, 77);
  EXPECT_EQ(read_tokenizer_config("").pad_token, "<|endoftext|>");
}

TEST(TokenizerConfig, PadTokenAsAddedTokenObject) {
  const std::string dir = sd::test::temp_dir("tokcfg-object");
  write_file(dir + "/tokenizer_config.json",
             R"({"pad_token": {"__type": "AddedToken", "content": "!", "lstrip": false}, "model_max_length": 77})");
  EXPECT_EQ(read_tokenizer_config(dir).pad_token, "!");
}

TEST(TokenizerConfig, SpecialTokensMapOverridesWithoutAddedTokensDecoder) {
  const std::string dir = sd::test::temp_dir("tokcfg-map");
  write_file(dir + "/tokenizer_config.json", R"({"pad_token": "<|endoftext|>"})");
  write_file(dir + "/special_tokens_map.json", R"({"pad_token": {"content": "!"}})");
  EXPECT_EQ(read_tokenizer_config(dir).pad_token, "!");
}

TEST(TokenizerConfig, AddedTokensDecoderTakesPrecedence) {
  // The layout of newer Hugging Face files (e.g. sdxl-turbo tokenizer_2).
  const std::string dir = sd::test::temp_dir("tokcfg-added");
  write_file(dir + "/tokenizer_config.json", R"({
    "added_tokens_decoder": {
      "0": {"content": "!", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
      "49406": {"content": "<|startoftext|>", "special": true},
      "49407": {"content": "<|endoftext|>", "special": true}
    },
    "pad_token": "!", "model_max_length": 77})");
  write_file(dir + "/special_tokens_map.json", R"({"pad_token": "<|endoftext|>"})");
  const TokenizerConfig cfg = read_tokenizer_config(dir);
  EXPECT_EQ(cfg.pad_token, "!");
  ASSERT_EQ(cfg.added_tokens.size(), 3u);
  EXPECT_EQ(cfg.added_tokens[0], (std::pair<int32_t, std::string>{0, "!"}));
}

TEST(TokenizerConfig, UnsetModelMaxLengthMeans77) {
  const std::string dir = sd::test::temp_dir("tokcfg-huge");
  write_file(dir + "/tokenizer_config.json", R"({"model_max_length": 1000000000000000019884624838656})");
  EXPECT_EQ(read_tokenizer_config(dir).model_max_length, 77);
}

TEST(TokenizerConfig, MalformedFilesAreErrorsNamingTheFile) {
  const std::string dir = sd::test::temp_dir("tokcfg-bad");
  const std::string path = dir + "/tokenizer_config.json";
  const std::pair<const char*, const char*> cases[] = {
      {"{not json", "not valid JSON"},
      {"[1, 2]", "expected a JSON object"},
      {R"({"pad_token": 7})", "pad_token"},
      {R"({"pad_token": {"lstrip": false}})", "pad_token"},
      {R"({"model_max_length": "77"})", "model_max_length"},
      {R"({"model_max_length": 2})", "model_max_length"},
      {R"({"model_max_length": 76.5})", "model_max_length"},
      {R"({"added_tokens_decoder": {"x": {"content": "!"}}})", "added_tokens_decoder"},
      {R"({"added_tokens_decoder": {"0": {"special": true}}})", "added_tokens_decoder"},
  };
  for (const auto& [text, what] : cases) {
    write_file(path, text);
    const std::string err = error_of(dir);
    EXPECT_NE(err.find(path), std::string::npos) << text << " -> " << err;
    EXPECT_NE(err.find(what), std::string::npos) << text << " -> " << err;
  }
  write_file(path, "{}");
  write_file(dir + "/special_tokens_map.json", R"({"bos_token": ["x"]})");
  EXPECT_NE(error_of(dir).find("special_tokens_map.json"), std::string::npos);
}

}  // namespace
}  // namespace sd::text
