// check_request: the one place the request contract lives, against a model's limits.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "pipeline/pipeline.h"
#include "pipeline/request_check.h"

namespace sd::pipeline {
namespace {

ModelInfo model() {
  ModelInfo m;
  m.decoders = {"vae"};
  return m;
}

GenerationRequest good() {
  GenerationRequest r;
  r.prompt = "a red fox";
  r.width = r.height = 512;
  return r;
}

io::Image image(int w, int h, int channels = 3) {
  io::Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.assign(size_t(w) * h * channels, 0);
  return img;
}

// The field a refusal names and its message; "" when the request passes.
std::pair<std::string, std::string> refusal(const GenerationRequest& r, const ModelInfo& m = model()) {
  try {
    check_request(r, m);
  } catch (const RequestError& e) {
    EXPECT_EQ(std::string(e.what()), e.field() + " " + e.detail());
    return {e.field(), e.what()};
  }
  return {};
}

template <class Edit>
GenerationRequest edited(Edit edit) {
  GenerationRequest r = good();
  edit(r);
  return r;
}

TEST(RequestCheck, AGoodRequestPassesAndEveryLimitIsInclusive) {
  EXPECT_EQ(refusal(good()).first, "");
  const RequestLimits l;
  EXPECT_EQ(refusal(edited([&](auto& r) { r.steps = l.max_steps; })).first, "");
  EXPECT_EQ(refusal(edited([&](auto& r) { r.steps = l.min_steps; })).first, "");
  EXPECT_EQ(refusal(edited([&](auto& r) { r.width = l.min_size; r.height = l.max_size; })).first, "");
  EXPECT_EQ(refusal(edited([&](auto& r) { r.guidance_scale = l.max_guidance; })).first, "");
  EXPECT_EQ(refusal(edited([&](auto& r) { r.clip_skip = l.max_clip_skip; })).first, "");
  // An empty prompt draws unconditionally, as in diffusers and A1111 (the native protocol
  // refuses it in its own translator).
  EXPECT_EQ(refusal(edited([&](auto& r) { r.prompt.clear(); })).first, "");
  EXPECT_EQ(refusal(edited([&](auto& r) { r.loras.assign(size_t(l.max_loras), {"/a.safetensors", -10.0f}); })).first, "");
}

TEST(RequestCheck, EachBrokenRuleNamesItsField) {
  struct Case {
    const char* name;
    GenerationRequest request;
    std::string field, says;
  };
  const std::vector<Case> cases = {
      {"prompt with ESC", edited([](auto& r) { r.prompt = "a\x1b"; }), "prompt", "control characters"},
      {"long negative prompt", edited([](auto& r) { r.negative_prompt.assign(10001, 'a'); }), "negative_prompt",
       "at most 10000 bytes"},
      {"steps 0", edited([](auto& r) { r.steps = 0; }), "steps", "steps must be between 1 and 150, got 0"},
      {"steps 151", edited([](auto& r) { r.steps = 151; }), "steps", "got 151"},
      {"guidance NaN", edited([](auto& r) { r.guidance_scale = std::nanf(""); }), "guidance_scale", "between 0 and 30"},
      {"guidance 30.5", edited([](auto& r) { r.guidance_scale = 30.5f; }), "guidance_scale", "got 30.5"},
      {"pndm with karras", edited([](auto& r) { r.sampler = Sampler::Pndm; r.schedule = Schedule::Karras; }), "schedule",
       "schedule karras does not work with sampler pndm; it takes default"},
      {"strength 1.5", edited([](auto& r) { r.strength = 1.5; }), "strength", "between 0 and 1"},
      {"img2img strength leaving no step",
       edited([](auto& r) { r.operation = Operation::Img2Img; r.init_image = image(64, 64); r.steps = 10; r.strength = 0.05; }),
       "strength", "strength 0.05 with 10 steps leaves no step to run"},
      {"clip_skip 0", edited([](auto& r) { r.clip_skip = 0; }), "clip_skip", "between 1 and 12"},
      {"clip_skip 13", edited([](auto& r) { r.clip_skip = 13; }), "clip_skip", "got 13"},
      {"17 loras", edited([](auto& r) { r.loras.assign(17, {"/a.safetensors", 1.0f}); }), "loras",
       "loras must hold at most 16 entries, got 17"},
      {"lora strength 11", edited([](auto& r) { r.loras = {{"/a.safetensors", 1.0f}, {"/b.safetensors", 11.0f}}; }),
       "loras[1].strength", "between -10 and 10"},
      {"lora without a file", edited([](auto& r) { r.loras = {{"", 1.0f}}; }), "loras[0]", "names no file"},
      {"width 63", edited([](auto& r) { r.width = 63; }), "width", "between 64 and 2048, got 63"},
      {"width 100", edited([](auto& r) { r.width = 100; }), "width", "width must be a multiple of 8, got 100"},
      {"height 2056", edited([](auto& r) { r.height = 2056; }), "height", "got 2056"},
      {"img2img without image", edited([](auto& r) { r.operation = Operation::Img2Img; }), "input_image", "is required"},
      {"inpaint without mask", edited([](auto& r) { r.operation = Operation::Inpaint; r.init_image = image(64, 64); }),
       "mask_image", "is required"},
      {"input image of extreme aspect",
       edited([](auto& r) { r.operation = Operation::Img2Img; r.init_image = image(4, 200); }), "input_image",
       "aspect ratio"},
      {"preview_every -1", edited([](auto& r) { r.preview_every = -1; }), "preview_every", "between 0 and 150"},
      {"preview_every 151", edited([](auto& r) { r.preview_every = 151; }), "preview_every", "got 151"},
      {"mask_blur_y 257", edited([](auto& r) { r.mask_blur_y = 257.f; }), "mask_blur_y", "between 0 and 256"},
      {"inpaint_padding -1", edited([](auto& r) { r.inpaint_padding = -1; }), "inpaint_padding", "between 0 and 8192"},
      {"inpaint_padding 8193", edited([](auto& r) { r.inpaint_padding = 8193; }), "inpaint_padding", "got 8193"},
      {"taesd decoder not loaded", edited([](auto& r) { r.decoder = FinalDecoder::Taesd; }), "decoder", "TAESD"},
  };
  for (const Case& c : cases) {
    const auto [field, message] = refusal(c.request);
    EXPECT_EQ(field, c.field) << c.name << ": " << message;
    EXPECT_NE(message.find(c.says), std::string::npos) << c.name << ": " << message;
  }
}

TEST(RequestCheck, TheModelsLimitsAreTheOnesApplied) {
  ModelInfo m = model();
  m.limits.max_clip_skip = 4;
  m.limits.size_multiple = 16;
  m.decoders.push_back("taesd");
  EXPECT_EQ(refusal(edited([](auto& r) { r.clip_skip = 5; }), m).second, "clip_skip must be between 1 and 4, got 5");
  EXPECT_EQ(refusal(edited([](auto& r) { r.width = 72; }), m).second, "width must be a multiple of 16, got 72");
  EXPECT_EQ(refusal(edited([](auto& r) { r.decoder = FinalDecoder::Taesd; }), m).first, "");
  // Without previews, their cadence does not matter.
  EXPECT_EQ(refusal(edited([](auto& r) { r.preview = PreviewMode::None; r.preview_every = -1; })).first, "");
  EXPECT_EQ(refusal(edited([](auto& r) { r.preview_every = 0; })).first, "");  // the last step only
}

TEST(RequestCheck, DefaultsForImageJobs) {
  const RequestLimits l;
  EXPECT_EQ(size_from_input_image(100, l), 96);
  EXPECT_EQ(size_from_input_image(20, l), 64);
  EXPECT_EQ(size_from_input_image(5000, l), 2048);
  EXPECT_DOUBLE_EQ(default_strength(Operation::Img2Img), 0.8);
  EXPECT_DOUBLE_EQ(default_strength(Operation::Inpaint), 1.0);
}

TEST(RequestCheck, RandomSeedsAre32Bit) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 200; ++i) {
    const uint64_t s = pick_random_seed();
    EXPECT_LE(s, 0xFFFFFFFFull);
    seen.insert(s);
  }
  EXPECT_GT(seen.size(), 190u);  // random, not a constant or a short cycle
}

}  // namespace
}  // namespace sd::pipeline
