// The parameters text as A1111 writes and reads it: field order, display names, quoting
// of values that hold delimiters, and the parser's reading of texts A1111 itself made.
#include <gtest/gtest.h>

#include "pipeline/parameters_text.h"

namespace sd::pipeline {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

GenerationRequest request() {
  GenerationRequest req;
  req.prompt = "a lighthouse, at dusk";
  req.negative_prompt = "blurry";
  req.steps = 20;
  req.sampler = Sampler::EulerA;
  req.schedule = Schedule::Karras;
  req.guidance_scale = 7.0f;
  req.seed = 1234;
  req.width = 512;
  req.height = 768;
  return req;
}

TEST(ParametersText, WritesA1111sFieldsInA1111sOrder) {
  GenerationRequest req = request();
  req.operation = Operation::Img2Img;
  req.strength = 0.6;
  req.clip_skip = 2;
  req.rng = NoiseSource::Philox;
  req.loras = {{"/srv/loras/style, v2.safetensors", 0.8f}, {"/srv/loras/detail.safetensors", 1.0f}};
  const std::string text =
      parameters_text(req, {"dreamshaper_8", "879db523c3", ""}, {"aaaaaaaaaaaa", "bbbbbbbbbbbb"});
  EXPECT_EQ(text,
            "a lighthouse, at dusk\nNegative prompt: blurry\n"
            "Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x768, "
            "Model hash: 879db523c3, Model: dreamshaper_8, Denoising strength: 0.6, Clip skip: 2, RNG: GPU, "
            "Lora hashes: \"style v2: aaaaaaaaaaaa, detail: bbbbbbbbbbbb\", Lora: style v2:0.8, Lora: detail:1");
}

// A1111's img2img init() adds these after RNG, in this order, for a masked img2img only.
TEST(ParametersText, NamesAnInpaintsMaskSettingsAsA1111Does) {
  GenerationRequest req = request();
  req.operation = Operation::Inpaint;
  req.strength = 0.75;
  req.mask_blur_x = req.mask_blur_y = 4.f;
  req.inpaint_only_masked = true;
  req.inpaint_padding = 32;
  req.masked_content = MaskedContent::Fill;
  EXPECT_EQ(parameters_text(req, {}, {}),
            "a lighthouse, at dusk\nNegative prompt: blurry\n"
            "Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x768, "
            "Denoising strength: 0.75, RNG: CPU, Mask blur: 4, Inpaint area: Only masked, Masked area padding: 32, "
            "Masked content: fill");
  // Whole picture, the original under the mask, blurs that differ (A1111's mask_blur is
  // then None): nothing but the strength.
  req.inpaint_only_masked = false;
  req.masked_content = MaskedContent::Original;
  req.mask_blur_y = 2.f;
  const std::string whole = parameters_text(req, {}, {});
  EXPECT_EQ(whole.substr(whole.find("Denoising")), "Denoising strength: 0.75, RNG: CPU");
  req.mask_blur_y = 4.f;
  req.masked_content = MaskedContent::LatentNoise;
  EXPECT_NE(parameters_text(req, {}, {}).find("RNG: CPU, Mask blur: 4, Masked content: latent noise"), std::string::npos);
  req.masked_content = MaskedContent::LatentNothing;
  EXPECT_NE(parameters_text(req, {}, {}).find("Masked content: latent nothing"), std::string::npos);
  req.operation = Operation::Img2Img;  // the mask settings of a request without a mask
  EXPECT_EQ(parameters_text(req, {}, {}).find("Mask"), std::string::npos);
}

TEST(ParametersText, LeavesOutWhatA1111LeavesOut) {
  GenerationRequest req = request();
  req.schedule = Schedule::Default;
  req.negative_prompt.clear();
  EXPECT_EQ(parameters_text(req, {}, {}),
            "a lighthouse, at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x768, RNG: CPU");
}

TEST(ParametersText, ReadsBackWhatItWrites) {
  GenerationRequest req = request();
  req.loras = {{"x/y/z.safetensors", 0.5f}};
  const auto parsed = parse_parameters_text(parameters_text(req, {"m", "0123456789", ""}, {"cccccccccccc"}));
  EXPECT_EQ(parsed.prompt, "a lighthouse, at dusk");
  EXPECT_EQ(parsed.negative_prompt, "blurry");
  EXPECT_EQ(parsed.settings, (Settings{{"Steps", "20"},
                                       {"Sampler", "Euler a"},
                                       {"Schedule type", "Karras"},
                                       {"CFG scale", "7"},
                                       {"Seed", "1234"},
                                       {"Size", "512x768"},
                                       {"Model hash", "0123456789"},
                                       {"Model", "m"},
                                       {"RNG", "CPU"},
                                       {"Lora hashes", "z: cccccccccccc"},
                                       {"Lora", "z:0.5"}}));
}

// Text as A1111 1.10 saves it, multi-line prompts and a JSON-quoted value with escapes.
TEST(ParametersText, ParsesA1111sOwnText) {
  const auto p = parse_parameters_text(
      "masterpiece, <lora:add_detail:0.7>\n  a castle  \nNegative prompt: lowres,\nbad hands\n"
      "Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3844385263, "
      "Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
      "Lora hashes: \"add_detail: 7c6bad76eb54\", TI hashes: \"say \\\"hi\\\", ok: abc\", Version: v1.10.1");
  EXPECT_EQ(p.prompt, "masterpiece, <lora:add_detail:0.7>\na castle");
  EXPECT_EQ(p.negative_prompt, "lowres,\nbad hands");
  ASSERT_EQ(p.settings.size(), 11u);
  EXPECT_EQ(p.settings[1], (std::pair<std::string, std::string>{"Sampler", "DPM++ 2M"}));
  EXPECT_EQ(p.settings[8], (std::pair<std::string, std::string>{"Lora hashes", "add_detail: 7c6bad76eb54"}));
  EXPECT_EQ(p.settings[9], (std::pair<std::string, std::string>{"TI hashes", "say \"hi\", ok: abc"}));
  EXPECT_EQ(p.settings[10], (std::pair<std::string, std::string>{"Version", "v1.10.1"}));
}

TEST(ParametersText, ALastLineWithFewSettingsIsPrompt) {
  const auto p = parse_parameters_text("a cat\nstyle: oil, mood: calm");
  EXPECT_EQ(p.prompt, "a cat\nstyle: oil, mood: calm");
  EXPECT_TRUE(p.settings.empty());
}

TEST(ParametersText, HostileTextIsParsedWithoutBlowingUp) {
  // Long runs that a backtracking regex would recurse through, and an unterminated quote.
  std::string text = "p\nSteps: 1, Sampler: x, Seed: \"" + std::string(200000, '\\') + std::string(200000, 'a');
  const auto p = parse_parameters_text(text);
  ASSERT_GE(p.settings.size(), 2u);
  EXPECT_EQ(p.settings[0].first, "Steps");
  EXPECT_EQ(parse_parameters_text("").prompt, "");
  EXPECT_EQ(parse_parameters_text(std::string(100000, ':')).settings.size(), 0u);
  // One long word with no colon: linear, not a retry from every letter.
  EXPECT_EQ(parse_parameters_text("p\n" + std::string(2000000, 'w') + ", Steps: 1, Seed: 2, Size: 8x8").settings.size(),
            3u);
}

}  // namespace
}  // namespace sd::pipeline
