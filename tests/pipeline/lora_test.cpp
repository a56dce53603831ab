// LoRAs through the pipeline: tiny-sd15 with tiny-lora-sd15 at 0.8 against diffusers'
// txt2img with both parts merged, and the model back to the plain reference for the next
// job, whether the LoRA job finished, failed on a bad file or was cancelled.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

std::string lora_path() { return test::fixtures_dir() + "/tiny-lora-sd15.safetensors"; }

// The fixtures' DDIM txt2img call, without previews.
GenerationRequest ddim_request(std::vector<LoraSpec> loras) {
  GenerationRequest req = test::tiny_ddim_request();
  req.preview = PreviewMode::None;
  req.loras = std::move(loras);
  return req;
}

io::SafetensorsFile plain_reference() {
  return io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
}

TEST(PipelineLora, MatchesDiffusersThenTheNextJobIsPlainAgain) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options());
  const GenerationResult with = pipe->generate(ddim_request({{lora_path(), 0.8f}}), {});
  const auto lora_reference = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-lora-sd15.reference.safetensors");
  test::expect_ddim_txt2img_matches(with, lora_reference);
  EXPECT_TRUE(with.timings.count("lora"));
  EXPECT_NE(with.parameters.find("tiny-lora-sd15"), std::string::npos) << with.parameters;

  const GenerationResult without = pipe->generate(ddim_request({}), {});
  test::expect_ddim_txt2img_matches(without, plain_reference());
}

TEST(PipelineLora, FailedAndCancelledLoraJobsLeaveTheModelPlain) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options());

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

  // Cancelled after the second step, with the LoRA merged: inside the third step's UNet,
  // which polls between its blocks.
  GenerationCallbacks cancel;
  int steps_done = 0;
  cancel.on_progress = [&](int step, int) { steps_done = step; };
  cancel.should_cancel = [&] { return steps_done >= 2; };
  EXPECT_THROW(pipe->generate(ddim_request({{lora_path(), 0.8f}}), cancel), Cancelled);

  test::expect_ddim_txt2img_matches(pipe->generate(ddim_request({}), {}), plain_reference());
}

}  // namespace
}  // namespace sd::pipeline
