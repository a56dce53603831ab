// <lora:NAME:WEIGHT> tags: taken out of the prompt text, their names resolved only inside
// the LoRA folders, and malformed or excessive tags refused with a message naming them.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "pipeline/prompt_loras.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

TEST(PromptLoras, TagsLeaveTheText) {
  const PromptLoraTags t = extract_lora_tags("a <lora:style:0.8>cat, <lora:detail> <hypernet:x:1> <lora:neg:-1.5e0>");
  EXPECT_EQ(t.text, "a cat,  <hypernet:x:1> ");
  ASSERT_EQ(t.loras.size(), 3u);
  EXPECT_EQ(t.loras[0].name, "style");
  EXPECT_FLOAT_EQ(t.loras[0].weight, 0.8f);
  EXPECT_EQ(t.loras[1].name, "detail");
  EXPECT_FLOAT_EQ(t.loras[1].weight, 1.0f);
  EXPECT_FLOAT_EQ(t.loras[2].weight, -1.5f);
  // An unclosed tag is text.
  EXPECT_EQ(extract_lora_tags("a cat <lora:style:1").text, "a cat <lora:style:1");
  EXPECT_TRUE(extract_lora_tags("a cat <lora:style:1").loras.empty());
}

TEST(PromptLoras, MalformedTagsAreRefused) {
  for (const auto& [prompt, says] : std::vector<std::pair<std::string, std::string>>{
           {"<lora::1>", "names no LoRA"},
           {"<lora:x:>", "must be a number"},
           {"<lora:x:1.5x>", "must be a number"},
           {"<lora:x:inf>", "within -10..10"},
           {"<lora:x:10.5>", "within -10..10"},
           {"<lora:x:1:0.5>", "separate text-encoder and UNet weights"}})
    EXPECT_NE(test::error_of([&] { extract_lora_tags(prompt); }).find(says), std::string::npos) << prompt;
  std::string many;
  for (size_t i = 0; i <= kMaxLorasPerImage; ++i) many += "<lora:x" + std::to_string(i) + ">";
  EXPECT_NE(test::error_of([&] { extract_lora_tags(many); }).find("more than 16"), std::string::npos);
}

TEST(PromptLoras, NamesResolveOnlyInsideTheFolders) {
  const std::string dir = test::fixtures_dir();
  const std::string lora = std::filesystem::canonical(dir + "/tiny-lora-sd15.safetensors").string();
  const auto specs = loras_with_tags({{"/explicit.safetensors", 0.5f}},
                                     extract_lora_tags("<lora:tiny-lora-sd15:0.8> <lora:tiny-lora-sd15.safetensors>"),
                                     {dir});
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs[0].path, "/explicit.safetensors");
  EXPECT_EQ(specs[1].path, lora);
  EXPECT_FLOAT_EQ(specs[1].strength, 0.8f);
  EXPECT_EQ(specs[2].path, lora);
  for (const char* prompt : {"<lora:missing:1>", "<lora:../fixtures/tiny-lora-sd15:1>", "<lora:tiny-sd15/x:1>"})
    EXPECT_NE(test::error_of([&] { loras_with_tags({}, extract_lora_tags(prompt), {dir}); }).find("no LoRA file"),
              std::string::npos)
        << prompt;
  EXPECT_NE(test::error_of([&] { loras_with_tags({}, extract_lora_tags("<lora:x:1>"), {}); }).find("--lora-dir"),
            std::string::npos);
  const std::vector<LoraSpec> explicit_loras(kMaxLorasPerImage, LoraSpec{"/x.safetensors", 1.0f});
  EXPECT_NE(test::error_of([&] { loras_with_tags(explicit_loras, extract_lora_tags("<lora:y>"), {dir}); })
                .find("at most 16 per image"),
            std::string::npos);
}

}  // namespace
}  // namespace sd::pipeline
