// Finding and reading the weights of diffusers component folders: the file names and
// variants diffusers writes, shards, dtype conversion and the errors for bad requests.
#include "models/weight_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/half.h"
#include "reference.h"

namespace sd::models {
namespace {

namespace fs = std::filesystem;
using test::fixture_path;

TEST(SafetensorsWeights, FindsTheDiffusersFileNames) {
  const auto unet = SafetensorsWeights::open_component(fixture_path("tiny-sd15/unet"));
  EXPECT_NE(unet->describe().find("diffusion_pytorch_model.safetensors"), std::string::npos);
  EXPECT_TRUE(unet->has("conv_in.weight"));
  const auto te = SafetensorsWeights::open_component(fixture_path("tiny-sd15/text_encoder"));
  EXPECT_NE(te->describe().find("/model.safetensors"), std::string::npos);
  EXPECT_TRUE(te->has("text_model.final_layer_norm.weight"));
}

TEST(SafetensorsWeights, ConvertsToTheRequestedDtype) {
  const auto w = SafetensorsWeights::open_component(fixture_path("tiny-sd15/unet"));
  const Tensor f32 = w->get("conv_in.weight", Shape{32, 4, 3, 3}, DType::F32);
  const Tensor bf16 = w->get("conv_in.weight", Shape{32, 4, 3, 3}, DType::BF16);
  EXPECT_EQ(bf16.dtype(), DType::BF16);
  EXPECT_TRUE(test::tensors_close(bf16, f32, 1e-2 * test::max_abs(f32)));
}

TEST(SafetensorsWeights, ErrorsNameTheFileAndTheTensor) {
  const std::string dir = fixture_path("tiny-sd15/unet");
  const auto w = SafetensorsWeights::open_component(dir);
  try {
    w->get("conv_in.weight", Shape{32, 9, 3, 3}, DType::F32);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/diffusion_pytorch_model.safetensors"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("conv_in.weight"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[32,9,3,3]"), std::string::npos);
  }
  try {
    w->get("conv_in.weight.nope", Shape{1}, DType::F32);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv_in.weight.nope"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos);
  }
}

TEST(SafetensorsWeights, MissingFolderSaysWhatItLookedFor) {
  const std::string dir = test::temp_dir("weights-empty");
  try {
    SafetensorsWeights::open_component(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("diffusion_pytorch_model.fp16.safetensors"), std::string::npos);
  }
}

TEST(SafetensorsWeights, ReadsTheFp16Variant) {
  const std::string dir = test::temp_dir("weights-fp16");
  const Tensor w = Tensor::from_floats({0.1f, -2.5f, 3.14159f, 65504.f}, Shape{2, 2});
  io::write_safetensors(dir + "/model.fp16.safetensors", {{"a.weight", w.to(DType::F16)}});
  const auto src = SafetensorsWeights::open_component(dir);
  const Tensor got = src->get("a.weight", Shape{2, 2}, DType::F32);
  const auto v = got.to_floats();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(v[i], f16_to_f32(f32_to_f16(w.to_floats()[i])));
}

TEST(SafetensorsWeights, ReadsShardsThroughTheIndex) {
  const std::string dir = test::temp_dir("weights-shards");
  io::write_safetensors(dir + "/diffusion_pytorch_model-00001-of-00002.safetensors",
                        {{"a", Tensor::full(Shape{2}, 1.f)}});
  io::write_safetensors(dir + "/diffusion_pytorch_model-00002-of-00002.safetensors",
                        {{"b", Tensor::full(Shape{3}, 2.f)}});
  std::ofstream(dir + "/diffusion_pytorch_model.safetensors.index.json")
      << R"({"metadata": {}, "weight_map": {"a": "diffusion_pytorch_model-00001-of-00002.safetensors",
                                            "b": "diffusion_pytorch_model-00002-of-00002.safetensors"}})";
  const auto src = SafetensorsWeights::open_component(dir);
  EXPECT_EQ(src->files().size(), 2u);
  EXPECT_EQ(src->get("a", Shape{2}, DType::F32).to_floats()[1], 1.f);
  EXPECT_EQ(src->get("b", Shape{3}, DType::F32).to_floats()[2], 2.f);
}

}  // namespace
}  // namespace sd::models
