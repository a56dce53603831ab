// The tiny-sd15 fixture as an LDM single-file checkpoint, with its configs from the
// diffusers folder (--config), generates diffusers' txt2img image (that its models equal
// the folder's bit for bit is tests/loaders/ldm_weights_test.cpp); the version of a
// single file comes from its layout, --sd-version picks among versions of the same
// architecture, and mismatches are refused with messages that say what to pass.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "loaders/model_set.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

std::string single_file() { return test::fixtures_dir() + "/tiny-sd15-single-file.safetensors"; }

LoadOptions single_file_options() {
  LoadOptions opt = test::tiny_load_options();
  opt.model_path = single_file();
  opt.config_dir = test::fixtures_dir() + "/tiny-sd15";
  return opt;
}

std::string load_error(const LoadOptions& opt) {
  try {
    Pipeline::load(opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(SingleFile, WithConfigGeneratesTheFolderImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(single_file_options());
  EXPECT_EQ(pipe->info().version, "v1-5");
  EXPECT_EQ(pipe->info().model_path, single_file());

  const GenerationResult r = pipe->generate(test::tiny_ddim_request(), {});
  test::expect_ddim_txt2img_matches(
      r, io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors"));
}

// On the CPU a checkpoint's text encoder and UNet layers are prepared as their weights are
// read, as a folder's are, and hold the folder's weights exactly.
TEST(SingleFile, LayersArePreparedAsTheyAreReadAndHoldTheFolderWeights) {
  SD_SKIP_WITHOUT_DATA("clip");
  for (DType dt : {DType::F32, DType::BF16}) {
    LoadOptions file_opt = single_file_options(), folder_opt = test::tiny_load_options();
    file_opt.dtype = folder_opt.dtype = dt;
    ModelSet from_file = load_model_set(file_opt), from_folder = load_model_set(folder_opt);
    const std::pair<models::ModuleRegistry, models::ModuleRegistry> pairs[] = {
        {from_file.text_encoder->modules(), from_folder.text_encoder->modules()},
        {from_file.unet->modules(), from_folder.unet->modules()}};
    size_t layers = 0;
    for (const auto& [file_layers, folder_layers] : pairs)
      for (const auto& [path, layer] : file_layers.modules()) {
        EXPECT_TRUE(layer.prepared()) << path;
        EXPECT_EQ(test::max_abs_diff(layer.weight(), folder_layers.modules().at(path).weight()), 0.0) << path;
        ++layers;
      }
    EXPECT_GT(layers, 50u) << dtype_name(dt);
  }
}

TEST(SingleFile, WithoutConfigUsesTheBuiltInConfigsAndSaysSo) {
  LoadOptions opt = single_file_options();
  opt.config_dir.clear();
  // The tiny fixture's shapes are no real version's: the built-in v1-5 configs do not fit.
  const std::string msg = load_error(opt);
  EXPECT_NE(msg.find("built-in v1-5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--config"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the model config expects"), std::string::npos) << msg;
}

// A lone file needs no vocabulary: the built-in one is taken, and loading goes on to the
// weights (which, for the tiny fixture, no built-in config fits).
TEST(SingleFile, WithoutConfigOrTokenizerUsesTheBuiltInVocabulary) {
  LoadOptions opt = single_file_options();
  opt.config_dir.clear();
  opt.tokenizer_dir.clear();
  const std::string msg = load_error(opt);
  EXPECT_EQ(msg.find("vocab"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the model config expects"), std::string::npos) << msg;
}

TEST(SingleFile, WithConfigWithoutVocabularyGeneratesTheFolderImage) {
  LoadOptions opt = single_file_options();
  opt.config_dir = test::model_without_vocabulary("tiny-sd15");
  opt.tokenizer_dir.clear();
  auto pipe = Pipeline::load(opt);
  const GenerationResult r = pipe->generate(test::tiny_ddim_request(), {});
  test::expect_ddim_txt2img_matches(
      r, io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors"));
}

TEST(SingleFile, SdVersionMustMatchTheConfigs) {
  LoadOptions opt = single_file_options();
  opt.sd_version = "v2-1";
  const std::string msg = load_error(opt);
  EXPECT_NE(msg.find("describe version v1-5, not the requested v2-1"), std::string::npos) << msg;
}

TEST(SingleFile, ConfigsOfAnotherArchitectureAreRefused) {
  LoadOptions opt = single_file_options();
  opt.config_dir = test::fixtures_dir() + "/tiny-sd21v";
  const std::string msg = load_error(opt);
  EXPECT_NE(msg.find("weights are an SD1.x model"), std::string::npos) << msg;
}

TEST(SingleFile, VersionFromLayout) {
  using models::LdmTextEncoders;
  const struct {
    LdmTextEncoders te;
    int in_channels;
    const char* requested;
    const char* version;
  } cases[] = {
      {LdmTextEncoders::Clip, 4, "", "v1-5"},
      {LdmTextEncoders::Clip, 9, "", "v1-5-inpaint"},
      {LdmTextEncoders::OpenClip, 4, "", "v2-1"},  // v-prediction, 768 px, as diffusers assumes
      {LdmTextEncoders::OpenClip, 9, "", "v2-inpaint"},
      {LdmTextEncoders::ClipAndOpenClip, 4, "", "xl"},
      {LdmTextEncoders::ClipAndOpenClip, 9, "", "xl-inpaint"},
      {LdmTextEncoders::OpenClip, 4, "sd-turbo", "sd-turbo"},
      {LdmTextEncoders::ClipAndOpenClip, 4, "turbo", "turbo"},
      {LdmTextEncoders::ClipAndOpenClip, 4, "SDXL", "xl"},
      {LdmTextEncoders::Clip, 4, "1.5", "v1-5"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(single_file_version({c.te, c.in_channels}, c.requested, "f").name, c.version)
        << int(c.te) << " " << c.in_channels << " " << c.requested;

  EXPECT_THROW(single_file_version({LdmTextEncoders::Clip, 4}, "xl", "f"), Error);
  EXPECT_THROW(single_file_version({LdmTextEncoders::OpenClip, 9}, "v2-1", "f"), Error);
  EXPECT_THROW(single_file_version({LdmTextEncoders::ClipAndOpenClip, 9}, "turbo", "f"), Error);
  EXPECT_THROW(single_file_version({LdmTextEncoders::Clip, 8}, "", "f"), Error);
  EXPECT_THROW(single_file_version({LdmTextEncoders::Clip, 4}, "v3", "f"), Error);
}

}  // namespace
}  // namespace sd::pipeline
