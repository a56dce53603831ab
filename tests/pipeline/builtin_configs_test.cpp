// The real diffusers configs of every version (SD_TEST_DATA/model-configs and
// sd15-diffusers-configs) parse, are detected as the right version, and the built-in
// configs single-file checkpoints use parse to exactly the same settings.
#include "loaders/builtin_configs.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "models/autoencoder_kl.h"
#include "models/clip_config.h"
#include "models/unet_config.h"
#include "models/vae_config.h"
#include "loaders/model_set.h"
#include "sampling/scheduler_config.h"
#include "support/test_support.h"
#include "text/tokenizer_config.h"

namespace sd::pipeline {
namespace {

struct RealModel {
  const char* dir;      // under SD_TEST_DATA
  const char* version;  // what it must be detected as
};

void PrintTo(const RealModel& r, std::ostream* os) { *os << r.dir; }

const RealModel kReal[] = {
    {"sd15-diffusers-configs", "v1-5"},
    {"model-configs/stable-diffusion-v1-5__stable-diffusion-inpainting", "v1-5-inpaint"},
    {"model-configs/stabilityai__stable-diffusion-2-1", "v2-1"},
    {"model-configs/stabilityai__stable-diffusion-2-inpainting", "v2-inpaint"},
    {"model-configs/stabilityai__sd-turbo", "sd-turbo"},
    {"model-configs/stabilityai__stable-diffusion-xl-base-1.0", "xl"},
    {"model-configs/stabilityai__sdxl-turbo", "turbo"},
    {"model-configs/diffusers__stable-diffusion-xl-1.0-inpainting-0.1", "xl-inpaint"},
};

// Token strings with an effect on ids. Added tokens that repeat a special token split
// the text the same way the special token does, so they change nothing.
void expect_same_tokenizer(const text::TokenizerConfig& builtin, const text::TokenizerConfig& real) {
  EXPECT_EQ(builtin.bos_token, real.bos_token);
  EXPECT_EQ(builtin.eos_token, real.eos_token);
  EXPECT_EQ(builtin.unk_token, real.unk_token);
  EXPECT_EQ(builtin.pad_token, real.pad_token);
  EXPECT_EQ(builtin.model_max_length, real.model_max_length);
  EXPECT_TRUE(builtin.added_tokens.empty());
  for (const auto& [id, token] : real.added_tokens) {
    const std::vector<std::string> special = {real.bos_token, real.eos_token, real.unk_token, real.pad_token};
    EXPECT_NE(std::find(special.begin(), special.end(), token), special.end())
        << "added token " << id << " \"" << token << "\" is not a special token";
  }
}

class RealConfigs : public ::testing::TestWithParam<RealModel> {};

TEST_P(RealConfigs, ParseAreDetectedAndEqualTheBuiltInOnes) {
  const RealModel r = GetParam();
  SD_SKIP_WITHOUT_DATA(r.dir);
  const std::string dir = test::data_dir() + "/" + r.dir;
  const FolderConfigs real = read_folder_configs(dir);
  EXPECT_EQ(detect_version(real.evidence).name, r.version);

  const BuiltinConfigs b = builtin_configs(r.version);
  EXPECT_TRUE(models::UNetConfig::parse(b.unet, "built-in") == models::UNetConfig::parse(real.evidence.unet, dir))
      << "unet";
  EXPECT_TRUE(models::VaeConfig::parse(b.vae, "built-in") == models::VaeConfig::parse(real.vae, dir)) << "vae";
  EXPECT_TRUE(models::ClipTextConfig::parse(b.text_encoder, "built-in") ==
              models::ClipTextConfig::parse(real.evidence.text_encoder, dir))
      << "text_encoder";
  ASSERT_EQ(b.text_encoder_2.is_null(), !real.evidence.has_text_encoder_2);
  if (real.evidence.has_text_encoder_2) {
    EXPECT_TRUE(models::ClipTextConfig::parse(b.text_encoder_2, "built-in") ==
                models::ClipTextConfig::parse(real.text_encoder_2, dir))
        << "text_encoder_2";
  }
  EXPECT_TRUE(sampling::parse_scheduler_config(b.scheduler) ==
              sampling::parse_scheduler_config(real.evidence.scheduler))
      << "scheduler";
  EXPECT_EQ(b.force_zeros_for_empty_prompt, real.force_zeros_for_empty_prompt);
  {
    SCOPED_TRACE("tokenizer");
    expect_same_tokenizer(b.tokenizer, text::read_tokenizer_config(dir + "/tokenizer"));
  }
  if (real.evidence.has_text_encoder_2) {
    SCOPED_TRACE("tokenizer_2");
    expect_same_tokenizer(b.tokenizer_2, text::read_tokenizer_config(dir + "/tokenizer_2"));
  }
}

TEST_P(RealConfigs, AreTheRepositoryOfTheirVersion) {
  const RealModel r = GetParam();
  const std::string dir = r.dir;
  const std::string prefix = "model-configs/";
  if (dir.rfind(prefix, 0) != 0) GTEST_SKIP() << dir << " is a fine-tune's configs, not a version's repository";
  std::string repo = dir.substr(prefix.size());
  repo.replace(repo.find("__"), 2, "/");
  EXPECT_EQ(find_version(r.version)->hub_repo, repo);
}

INSTANTIATE_TEST_SUITE_P(Versions, RealConfigs, ::testing::ValuesIn(kReal), [](const auto& info) {
  std::string n = info.param.version;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

TEST(BuiltinConfigs, EveryVersionHasConfigsThatBuildItsVersion) {
  for (const auto& v : all_versions()) {
    SCOPED_TRACE(v.name);
    const BuiltinConfigs b = builtin_configs(v.name);
    VersionEvidence e{b.unet, b.text_encoder, b.scheduler, !b.text_encoder_2.is_null()};
    EXPECT_EQ(detect_version(e).name, v.name);
    const auto unet = models::UNetConfig::parse(b.unet, v.name);
    const auto vae = models::VaeConfig::parse(b.vae, v.name);
    EXPECT_EQ(unet.sample_size * vae.scale_factor(), v.native_size);
    EXPECT_EQ(unet.in_channels == 9, v.inpaint);
  }
  EXPECT_THROW(builtin_configs("v3"), Error);
}

}  // namespace
}  // namespace sd::pipeline
