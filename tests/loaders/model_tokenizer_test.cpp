// A model's tokenizer from what the model ships: its folder's config when it has one,
// else its version's built-in config, with the built-in vocabulary when no vocabulary
// file is there.
#include <gtest/gtest.h>

#include "loaders/builtin_configs.h"
#include "loaders/model_tokenizer.h"
#include "support/test_support.h"
#include "text/builtin_clip_vocabulary.h"

namespace sd::pipeline {
namespace {

TEST(ModelTokenizer, WithoutAFolderTheVersionsConfig) {
  const BuiltinConfigs xl = builtin_configs("xl");
  const std::string absent = test::temp_dir("no-tokenizer") + "/tokenizer_2";
  EXPECT_EQ(load_model_tokenizer(absent, "", xl.tokenizer_2).pad_id(), 0);  // SDXL's second pads with "!"
  EXPECT_EQ(load_model_tokenizer(absent, "", xl.tokenizer).pad_id(), 49407);
  EXPECT_EQ(load_model_tokenizer("", "", builtin_configs("v2-1").tokenizer).pad_id(), 0);
}

TEST(ModelTokenizer, TheFoldersConfigWins) {
  // tiny-sd15's tokenizer/ pads with <|endoftext|>, whatever the fallback says.
  const text::ClipTokenizer tok =
      load_model_tokenizer(test::fixtures_dir() + "/tiny-sd15/tokenizer", "", builtin_configs("xl").tokenizer_2);
  EXPECT_EQ(tok.pad_id(), 49407);
  EXPECT_EQ(tok.encode("a photo of a cat"), (std::vector<int32_t>{320, 1125, 539, 320, 2368}));
}

}  // namespace
}  // namespace sd::pipeline
