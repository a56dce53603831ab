// The warm-up at load: it runs the default native-size job's networks once (the same
// arithmetic as a one-step job), and leaves nothing behind that changes a later image.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/log.h"
#include "ops/flop_count.h"
#include "pipeline/model_hashes.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

LoadOptions options(const std::string& model, DType dtype, bool warm_up) {
  LoadOptions opt;
  opt.model_path = test::fixtures_dir() + "/" + model;
  opt.tokenizer_dir = test::data_dir() + "/clip";
  opt.dtype = dtype;
  opt.warm_up = warm_up;
  return opt;
}

GenerationRequest job(const ModelInfo& info, int steps) {
  GenerationRequest req;
  req.prompt = "a photo of a cat";
  req.steps = steps;
  req.seed = 7;
  req.width = info.native_width;
  req.height = info.native_height;
  req.guidance_scale = info.default_guidance;
  req.sampler = info.default_sampler;
  req.preview = PreviewMode::None;
  return req;
}

TEST(WarmUp, LoadRunsOneNativeSizeStepOfTheDefaultJob) {
  SD_SKIP_WITHOUT_DATA("clip");
  ops::reset_flop_count();
  const auto warmed = Pipeline::load(options("tiny-sd15", DType::F32, true));
  const double at_load = ops::flops_counted();
  ops::reset_flop_count();
  const auto cold = Pipeline::load(options("tiny-sd15", DType::F32, false));
  EXPECT_EQ(ops::flops_counted(), 0.0);
  cold->generate(job(cold->info(), 1), {});
  EXPECT_GT(at_load, 0.0);
  EXPECT_EQ(at_load, ops::flops_counted());
}

TEST(WarmUp, LaterImagesAreThoseOfAPipelineWithoutIt) {
  SD_SKIP_WITHOUT_DATA("clip");
  for (DType dtype : {DType::F32, DType::BF16}) {
    const auto warmed = Pipeline::load(options("tiny-sd15", dtype, true));
    const auto cold = Pipeline::load(options("tiny-sd15", dtype, false));
    const GenerationResult a = warmed->generate(job(warmed->info(), 2), {});
    const GenerationResult b = cold->generate(job(cold->info(), 2), {});
    EXPECT_EQ(a.image.pixels, b.image.pixels) << dtype_name(dtype);
    EXPECT_EQ(a.parameters, b.parameters);
  }
}

TEST(WarmUp, InpaintingModelsWarmUpAsTextToImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto pipe = Pipeline::load(options("tiny-sd15-inpaint", DType::F32, true));
  EXPECT_TRUE(pipe->info().inpaint_model);
}

// The warm-up describes no image, so the load does not wait for the model's hash: with a
// UNet file that takes seconds to hash (its data followed by a 1 GB hole, which the load
// never reads), the load returns before the hash is logged, and the first image's
// parameters then carry the hash.
TEST(WarmUp, DoesNotWaitForTheModelHash) {
  SD_SKIP_WITHOUT_DATA("clip");
  namespace fs = std::filesystem;
  const std::string dir = test::temp_dir("warm-up-hash");
  const std::string model = dir + "/model";
  fs::copy(test::fixtures_dir() + "/tiny-sd15", model, fs::copy_options::recursive);
  const std::string unet = model + "/unet/diffusion_pytorch_model.safetensors";
  fs::resize_file(unet, fs::file_size(unet) + (uint64_t(1) << 30));
  test::ScopedEnv xdg("XDG_CACHE_HOME", dir + "/xdg");
  LoadOptions opt = options("tiny-sd15", DType::F32, true);
  opt.model_path = model;
  const LogLevel level = log_level();
  set_log_level(LogLevel::Info);
  testing::internal::CaptureStderr();
  const auto pipe = Pipeline::load(opt);
  const std::string at_load = testing::internal::GetCapturedStderr();
  set_log_level(level);
  EXPECT_NE(at_load.find("warmed up"), std::string::npos) << at_load;
  EXPECT_EQ(at_load.find("model hash"), std::string::npos) << at_load;
  const GenerationResult r = pipe->generate(job(pipe->info(), 1), {});
  EXPECT_NE(r.parameters.find("Model hash: " + checkpoint_hash(model)), std::string::npos) << r.parameters;
}

}  // namespace
}  // namespace sd::pipeline
