// A1111's generation parameters text read back for /sdapi/v1/png-info, as A1111's
// parse_generation_parameters reads it.
#include <gtest/gtest.h>

#include "server/a1111_infotext.h"

namespace sd::server {
namespace {

TEST(A1111Infotext, PromptNegativePromptAndParameters) {
  auto p = parse_a1111_infotext(
      "a fox\nin the snow\nNegative prompt: blurry,\nlow quality\n"
      "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x768, "
      "Lora hashes: \"fox: abc123, snow: def456\", Model: v1-5");
  EXPECT_EQ(p["Prompt"], "a fox\nin the snow");
  EXPECT_EQ(p["Negative prompt"], "blurry,\nlow quality");
  EXPECT_EQ(p["Steps"], "20");
  EXPECT_EQ(p["Sampler"], "DPM++ 2M");
  EXPECT_EQ(p["Schedule type"], "Karras");
  EXPECT_EQ(p["Seed"], "42");
  EXPECT_EQ(p["Size"], "512x768");
  EXPECT_EQ(p["Size-1"], "512");
  EXPECT_EQ(p["Size-2"], "768");
  EXPECT_EQ(p["Lora hashes"], "fox: abc123, snow: def456") << "quoted values keep their commas, unquoted";
  EXPECT_EQ(p["Model"], "v1-5");
}

TEST(A1111Infotext, ALastLineThatIsNotParametersIsPrompt) {
  auto p = parse_a1111_infotext("just a prompt: with a colon");
  EXPECT_EQ(p["Prompt"], "just a prompt: with a colon");
  EXPECT_EQ(p["Negative prompt"], "");
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(parse_a1111_infotext("")["Prompt"], "");
}

TEST(A1111Infotext, HostileTextEndsInLinearTime) {
  // One huge parameters line, an unterminated quote and a backslash at the very end.
  std::string line = "p\n";
  for (int i = 0; i < 200000; ++i) {
    line += 'K';
    line += std::to_string(i);
    line += ": v, ";
  }
  line += "Q: \"unterminated \\";
  auto p = parse_a1111_infotext(line);
  EXPECT_EQ(p["K0"], "v");
  EXPECT_EQ(p["K199999"], "v");
  EXPECT_EQ(parse_a1111_infotext(std::string(1 << 20, ',')).value("Prompt", ""), std::string(1 << 20, ','));
}

}  // namespace
}  // namespace sd::server
