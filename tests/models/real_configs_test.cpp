// The real diffusers configs of every supported model family build the full-size module
// structure: each model is constructed from views of one shared zero buffer (no memory,
// no time), and the parameter totals are checked against the published model sizes, so a
// missing or mis-sized block anywhere shows up. Needs SD_TEST_DATA/model-configs and
// sd15-diffusers-configs; skips without them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition.h"
#include "support/test_support.h"

namespace sd::models {
namespace {

namespace fs = std::filesystem;

// Hands out views of one calloc'd zero buffer (untouched pages cost nothing) and records
// every tensor requested.
class ZeroWeights : public WeightSource {
 public:
  static constexpr size_t kBytes = size_t(300) << 20;  // > the largest tensor (SDXL token embedding, f32)
  ZeroWeights() : zeros_(std::calloc(kBytes, 1), std::free) {}

  bool has(const std::string&) const override { return true; }
  std::string describe() const override { return "zero weights"; }
  int64_t params() const {
    int64_t n = 0;
    for (const auto& [name, shape] : requested_) n += shape.product();
    return n;
  }
  const std::map<std::string, Shape>& requested() const { return requested_; }

 protected:
  Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const override {
    EXPECT_TRUE(requested_.emplace(name, shape).second) << name << " requested twice";
    EXPECT_LE(size_t(shape.product()) * dtype_size(dtype), kBytes) << name;
    return Tensor::wrap(zeros_.get(), shape, dtype, zeros_);
  }

 private:
  std::shared_ptr<void> zeros_;
  mutable std::map<std::string, Shape> requested_;
};

std::string configs_dir(const std::string& model) {
  if (model == "sd15") return test::data_dir() + "/sd15-diffusers-configs";
  return test::data_dir() + "/model-configs/" + model;
}

struct Expected {
  const char* model;
  int64_t unet, text_encoder, text_encoder_2;  // parameters; 0 = no such component
};

// Published parameter counts of the diffusers/transformers modules.
constexpr int64_t kSd1Unet = 859'520'964, kSd2Unet = 865'910'724, kSdxlUnet = 2'567'463'684;
constexpr int64_t kInpaintExtra = 5 * 320 * 9;  // conv_in takes 9 channels instead of 4
constexpr int64_t kClipL = 123'060'480, kOpenClipH = 340'387'840, kOpenClipBigGWithProjection = 694'659'840;
constexpr int64_t kSdVae = 83'653'863;

const Expected kModels[] = {
    {"sd15", kSd1Unet, kClipL, 0},
    {"stable-diffusion-v1-5__stable-diffusion-inpainting", kSd1Unet + kInpaintExtra, kClipL, 0},
    {"stabilityai__stable-diffusion-2-1", kSd2Unet, kOpenClipH, 0},
    {"stabilityai__stable-diffusion-2-inpainting", kSd2Unet + kInpaintExtra, kOpenClipH, 0},
    {"stabilityai__sd-turbo", kSd2Unet, kOpenClipH, 0},
    {"stabilityai__stable-diffusion-xl-base-1.0", kSdxlUnet, kClipL, kOpenClipBigGWithProjection},
    {"stabilityai__sdxl-turbo", kSdxlUnet, kClipL, kOpenClipBigGWithProjection},
    {"diffusers__stable-diffusion-xl-1.0-inpainting-0.1", kSdxlUnet + kInpaintExtra, kClipL,
     kOpenClipBigGWithProjection},
};

TEST(RealConfigs, EveryModelBuildsWithItsPublishedParameterCounts) {
  SD_SKIP_WITHOUT_DATA("model-configs");
  SD_SKIP_WITHOUT_DATA("sd15-diffusers-configs");
  for (const Expected& e : kModels) {
    SCOPED_TRACE(e.model);
    const std::string dir = configs_dir(e.model);
    ASSERT_TRUE(fs::exists(dir)) << dir;
    {
      ZeroWeights w;
      UNet2DConditionModel unet(UNetConfig::load(dir + "/unet/config.json"), w, DType::BF16);
      EXPECT_EQ(w.params(), e.unet) << "unet";
    }
    {
      ZeroWeights w;
      AutoencoderKL vae(VaeConfig::load(dir + "/vae/config.json"), w, DType::BF16);
      EXPECT_EQ(w.params(), kSdVae) << "vae";
      EXPECT_EQ(vae.scale_factor(), 8);
    }
    {
      ZeroWeights w;
      ClipTextModel te(ClipTextConfig::load(dir + "/text_encoder/config.json"), w, DType::BF16);
      EXPECT_EQ(w.params(), e.text_encoder) << "text_encoder";
    }
    if (e.text_encoder_2) {
      ZeroWeights w;
      ClipTextModel te2(ClipTextConfig::load(dir + "/text_encoder_2/config.json"), w, DType::BF16);
      EXPECT_EQ(w.params(), e.text_encoder_2) << "text_encoder_2";
      EXPECT_EQ(w.requested().at("text_projection.weight"), (Shape{1280, 1280}));
    }
  }
}

TEST(RealConfigs, Sd15Structure) {
  SD_SKIP_WITHOUT_DATA("sd15-diffusers-configs");
  const std::string dir = configs_dir("sd15");
  const UNetConfig c = UNetConfig::load(dir + "/unet/config.json");
  EXPECT_EQ(c.levels(), 4);
  const auto down = c.down_blocks();
  const int head_dims[] = {40, 80, 160};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(down[i].heads, 8);
    EXPECT_EQ(down[i].head_dim, head_dims[i]);
  }
  EXPECT_FALSE(down[3].has_attention);
  EXPECT_EQ(c.mid_block().head_dim, 160);
  EXPECT_EQ(c.context_dim(), 768);
  EXPECT_EQ(c.up_blocks()[3].head_dim, 40);
  ZeroWeights w;
  UNet2DConditionModel unet(c, w, DType::BF16);
  EXPECT_EQ(w.requested().at("down_blocks.0.attentions.0.proj_in.weight"), (Shape{320, 320, 1, 1}));
  EXPECT_EQ(w.requested().at("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"),
            (Shape{320, 768}));
  EXPECT_EQ(w.requested().at("up_blocks.3.resnets.2.conv1.weight"), (Shape{320, 640, 3, 3}));
  const ClipTextConfig te = ClipTextConfig::load(dir + "/text_encoder/config.json");
  EXPECT_EQ(te.hidden_act, ops::Activation::QuickGELU);
  EXPECT_EQ(te.hidden_size, 768);
  EXPECT_EQ(te.max_position_embeddings, 77);
}

TEST(RealConfigs, Sd21Structure) {
  SD_SKIP_WITHOUT_DATA("model-configs/stabilityai__stable-diffusion-2-1");
  const std::string dir = configs_dir("stabilityai__stable-diffusion-2-1");
  const UNetConfig c = UNetConfig::load(dir + "/unet/config.json");
  EXPECT_TRUE(c.use_linear_projection);
  const auto down = c.down_blocks();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(down[i].head_dim, 64);
  EXPECT_EQ(c.mid_block().heads, 20);
  EXPECT_EQ(c.up_blocks()[1].heads, 20);
  EXPECT_EQ(c.up_blocks()[3].heads, 5);
  ZeroWeights w;
  UNet2DConditionModel unet(c, w, DType::BF16);
  EXPECT_EQ(w.requested().at("down_blocks.0.attentions.0.proj_in.weight"), (Shape{320, 320}));
  EXPECT_EQ(ClipTextConfig::load(dir + "/text_encoder/config.json").hidden_act, ops::Activation::GELU);
  // The SD2.1 VAE config predates scaling_factor: diffusers' default applies.
  EXPECT_FLOAT_EQ(VaeConfig::load(dir + "/vae/config.json").scaling_factor, 0.18215f);
}

TEST(RealConfigs, SdxlStructure) {
  SD_SKIP_WITHOUT_DATA("model-configs/stabilityai__stable-diffusion-xl-base-1.0");
  const std::string dir = configs_dir("stabilityai__stable-diffusion-xl-base-1.0");
  const UNetConfig c = UNetConfig::load(dir + "/unet/config.json");
  EXPECT_TRUE(c.text_time_embedding);
  EXPECT_EQ(c.addition_time_embed_dim, 256);
  EXPECT_EQ(c.projection_class_embeddings_input_dim, 2816);
  const auto down = c.down_blocks();
  EXPECT_FALSE(down[0].has_attention);
  EXPECT_EQ(down[1].transformer_layers, 2);
  EXPECT_EQ(down[2].transformer_layers, 10);
  EXPECT_EQ(down[2].heads, 20);
  EXPECT_EQ(c.mid_block().transformer_layers, 10);
  const auto up = c.up_blocks();
  EXPECT_EQ(up[0].transformer_layers, 10);
  EXPECT_EQ(up[0].resnet_in_channels, (std::vector<int>{2560, 2560, 1920}));
  EXPECT_FALSE(up[2].has_attention);
  ZeroWeights w;
  UNet2DConditionModel unet(c, w, DType::BF16);
  EXPECT_EQ(w.requested().at("add_embedding.linear_1.weight"), (Shape{1280, 2816}));
  EXPECT_EQ(w.requested().count("mid_block.attentions.0.transformer_blocks.9.attn1.to_q.weight"), 1u);
  EXPECT_EQ(w.requested().count("mid_block.attentions.0.transformer_blocks.10.attn1.to_q.weight"), 0u);
  EXPECT_FLOAT_EQ(VaeConfig::load(dir + "/vae/config.json").scaling_factor, 0.13025f);
  EXPECT_TRUE(ClipTextConfig::load(dir + "/text_encoder_2/config.json").with_projection);
}

}  // namespace
}  // namespace sd::models
