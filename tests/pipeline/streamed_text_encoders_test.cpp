// Text encoders that stream their layers (loaders/model_set.h): chosen at load when the
// model and a native-size image would not fit in --max-memory, they give the images the
// resident encoders give, with or without a LoRA that changes them.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

// A memory no model fits in: the text encoders stream.
constexpr uint64_t kTinyMemory = uint64_t(1) << 20;

// Long enough for two 75-token chunks, with emphasis, and a negative prompt: every path
// of the conditioning (text_conditioning.cpp).
GenerationRequest long_prompt_request() {
  GenerationRequest req = test::tiny_ddim_request();
  req.preview = PreviewMode::None;
  req.prompt = "a (photo:1.3) of a cat";
  for (int i = 0; i < 20; ++i) req.prompt += ", sitting on a red chair";
  req.negative_prompt = "blurry, [dark]";
  return req;
}

void expect_same_image(const GenerationResult& got, const GenerationResult& want) {
  ASSERT_EQ(got.image.pixels.size(), want.image.pixels.size());
  EXPECT_TRUE(got.image.pixels == want.image.pixels);
  EXPECT_EQ(test::max_abs_diff(got.final_latents, want.final_latents), 0.0);
}

TEST(StreamedTextEncoders, GiveTheResidentImagesForEveryFamily) {
  SD_SKIP_WITHOUT_DATA("clip");
  for (const char* model : {"tiny-sd15", "tiny-sd21v", "tiny-sdxl"}) {
    SCOPED_TRACE(model);
    LoadOptions lean = test::tiny_load_options(model);
    lean.max_memory = kTinyMemory;
    auto streamed = Pipeline::load(lean);
    auto resident = Pipeline::load(test::tiny_load_options(model));
    EXPECT_TRUE(streamed->info().text_encoders_streamed);
    EXPECT_FALSE(resident->info().text_encoders_streamed);
    GenerationRequest req = long_prompt_request();
    expect_same_image(streamed->generate(req, {}), resident->generate(req, {}));
    req.guidance_scale = 1.0f;  // no negative row
    expect_same_image(streamed->generate(req, {}), resident->generate(req, {}));
  }
}

// The fixture LoRA changes a text-encoder layer too: merged as the layer is read, it gives
// the resident encoder's image, and the next job without it is the plain image again.
TEST(StreamedTextEncoders, MatchDiffusersAndTakeALoraAsTheResidentOnesDo) {
  SD_SKIP_WITHOUT_DATA("clip");
  LoadOptions lean = test::tiny_load_options();
  lean.max_memory = kTinyMemory;
  auto pipe = Pipeline::load(lean);
  auto resident = Pipeline::load(test::tiny_load_options());
  GenerationRequest req = test::tiny_ddim_request();
  req.preview = PreviewMode::None;
  const auto reference = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  const GenerationResult plain = pipe->generate(req, {});
  test::expect_ddim_txt2img_matches(plain, reference);

  req.loras = {{test::fixtures_dir() + "/tiny-lora-sd15.safetensors", 0.8f}};
  const GenerationResult with_lora = pipe->generate(req, {});
  expect_same_image(with_lora, resident->generate(req, {}));
  EXPECT_GT(test::max_abs_diff(with_lora.final_latents, plain.final_latents), 0.0);
  req.loras.clear();
  expect_same_image(pipe->generate(req, {}), plain);
}

}  // namespace
}  // namespace sd::pipeline
