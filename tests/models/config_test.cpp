// Config parsing: the fixture configs, rejection of architecture keys the engine does not
// implement, and the numbers diffusers derives from them (per-block channels and heads).
#include <gtest/gtest.h>

#include "core/error.h"
#include "models/clip_config.h"
#include "models/unet_config.h"
#include "models/vae_config.h"
#include "reference.h"

namespace sd::models {
namespace {

using io::Json;
using test::fixture_path;

Json fixture_json(const std::string& rel) { return io::read_json_file(fixture_path(rel)); }

// Parsing `j` with `key` set to `value` must fail with a message naming the key.
template <class Config>
void expect_rejected(Json j, const std::string& key, const Json& value) {
  j[key] = value;
  try {
    Config::parse(j, "cfg.json");
    ADD_FAILURE() << key << " = " << value.dump() << " was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
  }
}

TEST(UNetConfig, TinySd15) {
  const UNetConfig c = UNetConfig::load(fixture_path("tiny-sd15/unet/config.json"));
  EXPECT_EQ(c.levels(), 2);
  EXPECT_EQ(c.time_embed_dim, 128);
  EXPECT_FALSE(c.use_linear_projection);
  EXPECT_FALSE(c.text_time_embedding);
  const auto down = c.down_blocks();
  ASSERT_EQ(down.size(), 2u);
  EXPECT_TRUE(down[0].has_attention);
  EXPECT_EQ(down[0].heads, 8);
  EXPECT_EQ(down[0].head_dim, 4);
  EXPECT_TRUE(down[0].add_sampler);
  EXPECT_FALSE(down[1].has_attention);
  EXPECT_FALSE(down[1].add_sampler);
  EXPECT_EQ(down[1].resnet_in_channels, (std::vector<int>{32, 64}));
  EXPECT_EQ(c.mid_block().head_dim, 8);
  const auto up = c.up_blocks();
  EXPECT_EQ(up[0].resnet_in_channels, (std::vector<int>{128, 128, 96}));
  EXPECT_EQ(up[1].resnet_in_channels, (std::vector<int>{96, 64, 64}));
  EXPECT_TRUE(up[1].has_attention);
}

TEST(UNetConfig, TinySd21PerBlockHeads) {
  const UNetConfig c = UNetConfig::load(fixture_path("tiny-sd21v/unet/config.json"));
  EXPECT_TRUE(c.use_linear_projection);
  EXPECT_TRUE(c.upcast_attention);
  EXPECT_EQ(c.down_blocks()[0].heads, 2);
  EXPECT_EQ(c.down_blocks()[0].head_dim, 16);
  EXPECT_EQ(c.mid_block().heads, 4);
  EXPECT_EQ(c.mid_block().head_dim, 16);
  EXPECT_EQ(c.up_blocks()[1].heads, 2);  // reversed list
  EXPECT_EQ(c.mid_block().cross_attention_dim, 48);
}

TEST(UNetConfig, TinySdxlTransformerLayersAndTextTime) {
  const UNetConfig c = UNetConfig::load(fixture_path("tiny-sdxl/unet/config.json"));
  EXPECT_TRUE(c.text_time_embedding);
  EXPECT_EQ(c.addition_time_embed_dim, 8);
  EXPECT_EQ(c.projection_class_embeddings_input_dim, 112);
  EXPECT_FALSE(c.down_blocks()[0].has_attention);
  EXPECT_EQ(c.down_blocks()[1].transformer_layers, 2);
  EXPECT_EQ(c.mid_block().transformer_layers, 2);
  EXPECT_EQ(c.up_blocks()[0].transformer_layers, 2);
  EXPECT_EQ(c.up_blocks()[0].heads, 4);
}

TEST(UNetConfig, RejectsUnsupportedArchitectureKeys) {
  const Json j = fixture_json("tiny-sd15/unet/config.json");
  expect_rejected<UNetConfig>(j, "addition_embed_type", "text");
  expect_rejected<UNetConfig>(j, "class_embed_type", "timestep");
  expect_rejected<UNetConfig>(j, "num_class_embeds", 10);
  expect_rejected<UNetConfig>(j, "num_attention_heads", 8);
  expect_rejected<UNetConfig>(j, "resnet_time_scale_shift", "scale_shift");
  expect_rejected<UNetConfig>(j, "time_cond_proj_dim", 256);
  expect_rejected<UNetConfig>(j, "encoder_hid_dim_type", "text_proj");
  expect_rejected<UNetConfig>(j, "only_cross_attention", Json::array({false, true}));
  expect_rejected<UNetConfig>(j, "mid_block_type", "UNetMidBlock2DSimpleCrossAttn");
  expect_rejected<UNetConfig>(j, "mid_block_type", nullptr);
  expect_rejected<UNetConfig>(j, "down_block_types", Json::array({"AttnDownBlock2D", "DownBlock2D"}));
  expect_rejected<UNetConfig>(j, "attention_head_dim", 7);  // 32 channels in 7 heads
  expect_rejected<UNetConfig>(j, "attention_head_dim", Json::array({8, 8, 8}));
  expect_rejected<UNetConfig>(j, "transformer_layers_per_block", Json::array({Json::array({1}), Json::array({1})}));
  expect_rejected<UNetConfig>(j, "act_fn", "gelu");
  expect_rejected<UNetConfig>(j, "dual_cross_attention", true);
  expect_rejected<UNetConfig>(j, "_class_name", "UNet2DModel");
  expect_rejected<UNetConfig>(j, "block_out_channels", Json::array({32}));
  expect_rejected<UNetConfig>(j, "cross_attention_dim", Json::array({32, 64}));
}

TEST(UNetConfig, AcceptsTheSpellingsDiffusersAccepts) {
  Json j = fixture_json("tiny-sd15/unet/config.json");
  j["only_cross_attention"] = Json::array({false, false});
  j["layers_per_block"] = Json::array({1, 2});
  j["cross_attention_dim"] = Json::array({32, 32});
  j.erase("mid_block_type");  // old configs: the default UNetMidBlock2DCrossAttn
  const UNetConfig c = UNetConfig::parse(j, "cfg.json");
  EXPECT_EQ(c.down_blocks()[0].num_layers(), 1);
  EXPECT_EQ(c.up_blocks()[1].num_layers(), 2);  // reversed: 1 + 1
}

TEST(VaeConfig, TinyConfigs) {
  const VaeConfig sd15 = VaeConfig::load(fixture_path("tiny-sd15/vae/config.json"));
  EXPECT_EQ(sd15.scale_factor(), 2);
  EXPECT_FLOAT_EQ(sd15.scaling_factor, 0.18215f);
  EXPECT_FALSE(sd15.shift_factor.has_value());
  EXPECT_TRUE(sd15.latents_mean.empty());
  const VaeConfig sdxl = VaeConfig::load(fixture_path("tiny-sdxl/vae/config.json"));
  EXPECT_FLOAT_EQ(sdxl.scaling_factor, 0.13025f);
}

TEST(VaeConfig, RejectsUnsupportedArchitectureKeys) {
  const Json j = fixture_json("tiny-sd15/vae/config.json");
  expect_rejected<VaeConfig>(j, "down_block_types", Json::array({"DownEncoderBlock2D", "AttnDownEncoderBlock2D"}));
  expect_rejected<VaeConfig>(j, "up_block_types", Json::array({"UpDecoderBlock2D"}));
  expect_rejected<VaeConfig>(j, "act_fn", "relu");
  expect_rejected<VaeConfig>(j, "_class_name", "AutoencoderTiny");
  expect_rejected<VaeConfig>(j, "latents_mean", Json::array({0.1, 0.2}));
  expect_rejected<VaeConfig>(j, "norm_num_groups", 24);
}

TEST(ClipTextConfig, TinyConfigs) {
  const ClipTextConfig sd15 = ClipTextConfig::load(fixture_path("tiny-sd15/text_encoder/config.json"));
  EXPECT_EQ(sd15.hidden_act, ops::Activation::QuickGELU);
  EXPECT_FALSE(sd15.with_projection);
  EXPECT_EQ(sd15.head_dim(), 8);
  const ClipTextConfig te2 = ClipTextConfig::load(fixture_path("tiny-sdxl/text_encoder_2/config.json"));
  EXPECT_EQ(te2.hidden_act, ops::Activation::GELU);
  EXPECT_TRUE(te2.with_projection);
  EXPECT_EQ(te2.projection_dim, 64);
}

TEST(ClipTextConfig, RejectsUnsupportedArchitectureKeys) {
  const Json j = fixture_json("tiny-sd15/text_encoder/config.json");
  expect_rejected<ClipTextConfig>(j, "hidden_act", "gelu_new");
  expect_rejected<ClipTextConfig>(j, "architectures", Json::array({"CLIPVisionModel"}));
  expect_rejected<ClipTextConfig>(j, "num_attention_heads", 5);
  expect_rejected<ClipTextConfig>(j, "model_type", "clip");
}

}  // namespace
}  // namespace sd::models
