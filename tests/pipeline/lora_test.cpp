// LoRAs through the pipeline: tiny-sd15 with tiny-lora-sd15 at 0.8 against diffusers'
// txt2img with both parts merged, and the model back to the plain reference for the next
// job, whether the LoRA job finished, failed on a bad file or was cancelled.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "io/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

std::unique_ptr<Pipeline> load_tiny_sd15() {
  LoadOptions opt;
  opt.model_path = test::fixtures_dir() + "/tiny-sd15";
  opt.tokenizer_dir = test::data_dir() + "/clip";
  opt.dtype = DType::F32;
  return Pipeline::load(opt);
}

std::string lora_path() { return test::fixtures_dir() + "/tiny-lora-sd15.safetensors"; }

// The fixtures' DDIM txt2img call.
GenerationRequest ddim_request(std::vector<LoraSpec> loras) {
  GenerationRequest req;
  req.prompt = "a photo of a cat";
  req.steps = 4;
  req.guidance_scale = 7.5f;
  req.seed = 42;
  req.width = req.height = 64;
  req.sampler = "ddim";
  req.keep_latents = true;
  req.preview = PreviewMode::None;
  req.loras = std::move(loras);
  return req;
}

// Final latents within 1e-4 of max|ref|, and the 8-bit image within 1 LSB on at most 1 %
// of the values (the fixtures' pipeline tolerances).
void expect_matches(const GenerationResult& r, const io::SafetensorsFile& ref) {
  const Tensor latents = ref.load("t2i.ddim.latents", DType::F32).narrow(0, 3, 1).squeeze(0);
  EXPECT_TRUE(test::tensors_close(r.final_latents, latents, 1e-4 * test::max_abs(latents)));
  const Tensor u8 = ref.view("t2i.ddim.image_u8");
  ASSERT_EQ(r.image.pixels.size(), size_t(u8.numel()));
  const uint8_t* want = u8.data<uint8_t>();
  size_t differ = 0;
  int worst = 0;
  for (size_t i = 0; i < r.image.pixels.size(); ++i) {
    const int d = std::abs(int(r.image.pixels[i]) - int(want[i]));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  EXPECT_LE(worst, 1);
  EXPECT_LE(double(differ) / double(r.image.pixels.size()), 0.01);
}

io::SafetensorsFile plain_reference() {
  return io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
}

TEST(PipelineLora, MatchesDiffusersThenTheNextJobIsPlainAgain) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny_sd15();
  const GenerationResult with = pipe->generate(ddim_request({{lora_path(), 0.8f}}), {});
  expect_matches(with, io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-lora-sd15.reference.safetensors"));
  EXPECT_TRUE(with.timings.count("lora"));
  EXPECT_NE(with.parameters.find("tiny-lora-sd15"), std::string::npos) << with.parameters;

  const GenerationResult without = pipe->generate(ddim_request({}), {});
  expect_matches(without, plain_reference());
}

TEST(PipelineLora, FailedAndCancelledLoraJobsLeaveTheModelPlain) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny_sd15();

  // A LoRA for another model: the first layers fit tiny-sd15, the last does not.
  const auto fixture = io::SafetensorsFile::open(lora_path());
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& key : fixture.names()) tensors.emplace_back(key, fixture.view(key));
  const std::string bad_key = "lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_v.lora_down.weight";
  for (auto& [key, t] : tensors)
    if (key == bad_key) t = Tensor::zeros({4, 48}, DType::F32);
  const std::string bad = test::temp_dir("pipeline-lora") + "/bad.safetensors";
  io::write_safetensors(bad, tensors);
  try {
    pipe->generate(ddim_request({{bad, 1.f}}), {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad_key), std::string::npos) << e.what();
  }

  // Cancelled after the second step, with the LoRA merged.
  GenerationCallbacks cancel;
  int polls = 0;
  cancel.should_cancel = [&] { return ++polls > 2; };
  EXPECT_THROW(pipe->generate(ddim_request({{lora_path(), 0.8f}}), cancel), Cancelled);

  expect_matches(pipe->generate(ddim_request({}), {}), plain_reference());
}

}  // namespace
}  // namespace sd::pipeline
