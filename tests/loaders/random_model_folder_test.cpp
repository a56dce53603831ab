// A random-weight diffusers folder written to disk reads back through the real loaders as
// the same model RandomWeights builds in memory, in float32 and as the fp16 variant.
#include "loaders/random_model_folder.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "io/safetensors.h"
#include "loaders/model_set.h"
#include "loaders/random_weights.h"
#include "models/reference.h"
#include "models/unet_2d_condition.h"

namespace sd::pipeline {
namespace {

namespace fs = std::filesystem;

Tensor unet_output(const models::UNet2DConditionModel& unet) {
  const models::RandomWeights inputs(99);
  const models::UNetAddedCond added{inputs.get("text", Shape{1, 64}, DType::F32),
                                    Tensor::from_floats({64, 64, 0, 0, 64, 64}, Shape{1, 6})};
  return unet.forward(inputs.get("sample", Shape{1, 4, 16, 16}, DType::F32), {500.f},
                      inputs.get("context", Shape{1, 77, 96}, DType::F32), &added);
}

TEST(RandomModelFolder, Float32FolderLoadsAsTheModelBuiltFromTheSameSeed) {
  const std::string dir = test::temp_dir("random-folder-f32");
  write_random_model_folder(test::fixture_path("tiny-sdxl"), dir, 42, FolderPrecision::F32);
  for (const char* f : {"model_index.json", "scheduler/scheduler_config.json", "unet/config.json",
                        "text_encoder/model.safetensors", "text_encoder_2/model.safetensors",
                        "unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors"})
    EXPECT_TRUE(fs::exists(fs::path(dir) / f)) << f;

  const io::SafetensorsFile unet_file = io::SafetensorsFile::open(dir + "/unet/diffusion_pytorch_model.safetensors");
  const io::TensorInfo& conv_in = unet_file.info("conv_in.weight");
  EXPECT_EQ(conv_in.dtype_name, "F32");
  EXPECT_TRUE(test::tensors_close(unet_file.view("conv_in.weight"),
                                  models::RandomWeights(42).get("conv_in.weight", conv_in.shape, DType::F32), 0.0));

  // The loaders take every tensor and find none missing or left over (require_all_used).
  LoadOptions opt;
  opt.model_path = dir;
  const ModelSet m = load_diffusers_folder(opt);
  ASSERT_TRUE(m.text_encoder_2);
  const models::UNetConfig config = models::UNetConfig::load(dir + "/unet/config.json");
  const models::UNet2DConditionModel direct(config, models::RandomWeights(42));
  EXPECT_TRUE(test::tensors_close(unet_output(*m.unet), unet_output(direct), 0.0));
}

TEST(RandomModelFolder, Fp16VariantHoldsHalfPrecisionFilesUnderTheHubNames) {
  const std::string dir = test::temp_dir("random-folder-fp16");
  write_random_model_folder(test::fixture_path("tiny-sd15"), dir, 7, FolderPrecision::F32);
  // Rewritten as the fp16 variant: the float32 files go, or the loader would prefer them.
  write_random_model_folder(test::fixture_path("tiny-sd15"), dir, 7, FolderPrecision::Fp16);
  EXPECT_FALSE(fs::exists(dir + "/unet/diffusion_pytorch_model.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/text_encoder/model.safetensors"));
  const io::SafetensorsFile vae_file = io::SafetensorsFile::open(dir + "/vae/diffusion_pytorch_model.fp16.safetensors");
  const io::SafetensorsFile te_file = io::SafetensorsFile::open(dir + "/text_encoder/model.fp16.safetensors");
  for (const io::SafetensorsFile* f : {&vae_file, &te_file})
    for (const auto& name : f->names()) ASSERT_EQ(f->info(name).dtype_name, "F16") << name;
  const io::TensorInfo& w = vae_file.info("decoder.conv_out.weight");
  EXPECT_TRUE(test::tensors_close(vae_file.view("decoder.conv_out.weight"),
                                  models::RandomWeights(7).get("decoder.conv_out.weight", w.shape, DType::F16), 0.0));

  LoadOptions opt;
  opt.model_path = dir;
  const ModelSet m = load_diffusers_folder(opt);
  EXPECT_EQ(m.version.name, "v1-5");
}

TEST(RandomModelFolder, AFolderWithoutModelIndexIsRefusedByName) {
  const std::string configs = test::temp_dir("random-folder-no-index");
  const std::string out = test::temp_dir("random-folder-no-index-out");
  const std::string msg = test::error_of([&] { write_random_model_folder(configs, out, 1, FolderPrecision::F32); });
  EXPECT_NE(msg.find(configs), std::string::npos) << msg;
  EXPECT_NE(msg.find("model_index.json"), std::string::npos) << msg;
}

}  // namespace
}  // namespace sd::pipeline
