// LDM single-file weights: the tiny-sd15 fixture in LDM naming builds models identical to
// the diffusers folder's (same outputs, bit for bit) with every tensor used; name mapping
// at full size against keys of the published checkpoints; OpenCLIP's fused q/k/v and
// transposed projection from a file written here in OpenCLIP naming; layout detection;
// and the unused-tensor check.
#include "loaders/ldm_weights.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition.h"
#include "models/reference.h"
#include "support/test_support.h"

namespace sd::models {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const io::SafetensorsFile> open_shared(const std::string& path) {
  return std::make_shared<const io::SafetensorsFile>(io::SafetensorsFile::open(path));
}

std::shared_ptr<const io::SafetensorsFile> tiny_single_file() {
  return open_shared(test::fixture_path("tiny-sd15-single-file.safetensors"));
}

std::string tiny(const std::string& rel) { return test::fixture_path("tiny-sd15/" + rel); }

TEST(LdmWeights, FixtureLayoutIsSd1) {
  const LdmLayout layout = detect_ldm_layout(*tiny_single_file());
  EXPECT_EQ(layout.text_encoders, LdmTextEncoders::Clip);
  EXPECT_EQ(layout.unet_in_channels, 4);
}

TEST(LdmWeights, FixtureUnetIsTheFolderUnetBitForBit) {
  const auto file = tiny_single_file();
  const UNetConfig config = UNetConfig::load(tiny("unet/config.json"));
  const auto weights = ldm_unet_weights(file, config);
  const UNet2DConditionModel from_file(config, *weights, DType::F32);
  EXPECT_NO_THROW(weights->require_all_used());
  const auto from_folder = UNet2DConditionModel::load(tiny("unet"), DType::F32);

  const auto ref = test::open_reference("tiny-sd15");
  const Tensor sample = ref.load("unet.sample", DType::F32);
  const Tensor context = ref.load("unet.encoder_hidden_states", DType::F32);
  const Tensor out = from_file.forward(sample, {981.f}, context);
  EXPECT_EQ(test::max_abs_diff(out, from_folder->forward(sample, {981.f}, context)), 0.0);
  EXPECT_MATCHES_REFERENCE(out, ref.load("unet.t981.out", DType::F32));
}

TEST(LdmWeights, FixtureVaeIsTheFolderVaeBitForBit) {
  const auto file = tiny_single_file();
  const VaeConfig config = VaeConfig::load(tiny("vae/config.json"));
  const auto weights = ldm_vae_weights(file, config);
  const AutoencoderKL from_file(config, *weights, DType::F32);
  EXPECT_NO_THROW(weights->require_all_used());
  const auto from_folder = AutoencoderKL::load(tiny("vae"), DType::F32);

  const auto ref = test::open_reference("tiny-sd15");
  const Tensor z = ops::scale(ref.load("vae.decode.latents", DType::F32), 1.0f / 0.18215f);
  const Tensor image = from_file.decode(z);
  EXPECT_EQ(test::max_abs_diff(image, from_folder->decode(z)), 0.0);
  EXPECT_MATCHES_REFERENCE(image, ref.load("vae.decode.image", DType::F32));
  const Tensor x = ref.load("vae.encode.image", DType::F32);
  EXPECT_EQ(test::max_abs_diff(from_file.encode(x).mean, from_folder->encode(x).mean), 0.0);
}

TEST(LdmWeights, FixtureTextEncoderIsTheFolderTextEncoderBitForBit) {
  const auto file = tiny_single_file();
  const ClipTextConfig config = ClipTextConfig::load(tiny("text_encoder/config.json"));
  const auto weights = ldm_clip_weights(file, kLdmSd1ClipPrefix);
  const ClipTextModel from_file(config, *weights, DType::F32);
  EXPECT_NO_THROW(weights->require_all_used());
  const auto from_folder = ClipTextModel::load(tiny("text_encoder"), DType::F32);

  const auto ref = test::open_reference("tiny-sd15");
  const Tensor ids = ref.load("te.input_ids", DType::I64);
  const ClipTextOutput a = from_file.forward(ids), b = from_folder->forward(ids);
  EXPECT_EQ(test::max_abs_diff(a.last_hidden_state, b.last_hidden_state), 0.0);
  EXPECT_EQ(test::max_abs_diff(a.pooled_output, b.pooled_output), 0.0);
  EXPECT_MATCHES_REFERENCE(a.last_hidden_state, ref.load("te.last_hidden_state", DType::F32));
}

TEST(LdmWeights, ConfigSmallerThanTheCheckpointIsRejected) {
  const auto file = tiny_single_file();
  io::Json j = io::read_json_file(tiny("text_encoder/config.json"));
  j["num_hidden_layers"] = 4;  // the file has 5
  const auto weights = ldm_clip_weights(file, kLdmSd1ClipPrefix);
  const ClipTextModel te(ClipTextConfig::parse(j, "test"), *weights, DType::F32);
  try {
    weights->require_all_used();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cond_stage_model.transformer.text_model.encoder.layers.4."),
              std::string::npos)
        << e.what();
  }
}

TEST(LdmWeights, ShapeMismatchNamesBothNames) {
  const auto file = tiny_single_file();
  io::Json j = io::read_json_file(tiny("unet/config.json"));
  j["block_out_channels"] = {32, 96};
  const UNetConfig config = UNetConfig::parse(j, "test");
  const auto weights = ldm_unet_weights(file, config);
  try {
    UNet2DConditionModel unet(config, *weights, DType::F32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model.diffusion_model."), std::string::npos) << msg;
    EXPECT_NE(msg.find("the model config expects"), std::string::npos) << msg;
  }
}

// A file with just the tensors layout detection looks at.
LdmLayout layout_of(int in_channels, const std::vector<std::string>& text_keys) {
  std::vector<std::pair<std::string, Tensor>> t = {
      {std::string(kLdmUnetPrefix) + "input_blocks.0.0.weight", Tensor::zeros({8, in_channels, 3, 3}, DType::F16)}};
  for (const auto& k : text_keys) t.emplace_back(k, Tensor::zeros({4, 2}, DType::F16));
  const std::string path = test::temp_dir("ldm_layout") + "/layout.safetensors";
  io::write_safetensors(path, t);
  return detect_ldm_layout(io::SafetensorsFile::open(path));
}

TEST(LdmWeights, LayoutFromTextEncodersAndInputChannels) {
  const std::string sd1 = std::string(kLdmSd1ClipPrefix) + "text_model.embeddings.token_embedding.weight";
  const std::string sd2 = std::string(kLdmSd2OpenClipPrefix) + "token_embedding.weight";
  const std::string xl1 = std::string(kLdmSdxlClipPrefix) + "text_model.embeddings.token_embedding.weight";
  const std::string xl2 = std::string(kLdmSdxlOpenClipPrefix) + "token_embedding.weight";
  EXPECT_EQ(layout_of(4, {sd1}).text_encoders, LdmTextEncoders::Clip);
  EXPECT_EQ(layout_of(9, {sd1}).unet_in_channels, 9);
  EXPECT_EQ(layout_of(4, {sd2}).text_encoders, LdmTextEncoders::OpenClip);
  EXPECT_EQ(layout_of(9, {xl1, xl2}).text_encoders, LdmTextEncoders::ClipAndOpenClip);
  EXPECT_EQ(layout_of(9, {xl1, xl2}).unet_in_channels, 9);
  EXPECT_THROW(layout_of(4, {xl2}), Error);                                                     // half an SDXL
  EXPECT_THROW(layout_of(4, {"conditioner.embedders.0.model.token_embedding.weight"}), Error);  // refiner
  EXPECT_THROW(layout_of(4, {}), Error);                                                        // no text encoder
}

TEST(LdmWeights, NotAnLdmCheckpoint) {
  const auto folder_unet = io::SafetensorsFile::open(tiny("unet/diffusion_pytorch_model.safetensors"));
  EXPECT_THROW(detect_ldm_layout(folder_unet), Error);
}

// --- names at full size, against keys of the published SD1.5 / SDXL checkpoints --------

std::string ldm(const std::optional<LdmTensor>& t) { return t ? t->name : "(none)"; }

TEST(LdmNames, Sd15Unet) {
  const UNetConfig c = UNetConfig::parse(io::Json::object(), "SD1.5 defaults");  // diffusers' defaults are SD1.5's
  const std::map<std::string, std::string> expected = {
      {"conv_in.weight", "input_blocks.0.0.weight"},
      {"time_embedding.linear_2.bias", "time_embed.2.bias"},
      {"down_blocks.0.resnets.0.norm1.weight", "input_blocks.1.0.in_layers.0.weight"},
      {"down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k.weight",
       "input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"},
      {"down_blocks.0.downsamplers.0.conv.weight", "input_blocks.3.0.op.weight"},
      {"down_blocks.1.resnets.0.conv_shortcut.weight", "input_blocks.4.0.skip_connection.weight"},
      {"down_blocks.3.resnets.1.conv2.bias", "input_blocks.11.0.out_layers.3.bias"},
      {"mid_block.resnets.0.time_emb_proj.weight", "middle_block.0.emb_layers.1.weight"},
      {"mid_block.attentions.0.proj_out.weight", "middle_block.1.proj_out.weight"},
      {"mid_block.resnets.1.norm2.bias", "middle_block.2.out_layers.0.bias"},
      {"up_blocks.0.resnets.2.conv1.weight", "output_blocks.2.0.in_layers.2.weight"},
      {"up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.1.conv.weight"},
      {"up_blocks.1.attentions.0.norm.weight", "output_blocks.3.1.norm.weight"},
      {"up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight"},
      {"up_blocks.2.upsamplers.0.conv.bias", "output_blocks.8.2.conv.bias"},
      {"up_blocks.3.resnets.2.conv_shortcut.weight", "output_blocks.11.0.skip_connection.weight"},
      {"up_blocks.3.attentions.2.proj_out.bias", "output_blocks.11.1.proj_out.bias"},
      {"conv_norm_out.weight", "out.0.weight"},
      {"conv_out.bias", "out.2.bias"},
  };
  for (const auto& [name, key] : expected) EXPECT_EQ(ldm(ldm_unet_tensor(c, name)), kLdmUnetPrefix + key) << name;
  for (const char* none : {"down_blocks.3.downsamplers.0.conv.weight", "up_blocks.3.upsamplers.0.conv.weight",
                           "down_blocks.3.attentions.0.norm.weight", "down_blocks.4.resnets.0.conv1.weight",
                           "mid_block.resnets.2.conv1.weight", "foo.weight"})
    EXPECT_FALSE(ldm_unet_tensor(c, none).has_value()) << none;
}

TEST(LdmNames, SdxlUnet) {
  const UNetConfig c =
      UNetConfig::parse({{"block_out_channels", {320, 640, 1280}},
                         {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
                         {"up_block_types", {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}},
                         {"attention_head_dim", {5, 10, 20}},
                         {"transformer_layers_per_block", {1, 2, 10}},
                         {"cross_attention_dim", 2048},
                         {"use_linear_projection", true},
                         {"addition_embed_type", "text_time"},
                         {"addition_time_embed_dim", 256},
                         {"projection_class_embeddings_input_dim", 2816}},
                        "SDXL");
  const std::map<std::string, std::string> expected = {
      {"add_embedding.linear_1.weight", "label_emb.0.0.weight"},
      {"add_embedding.linear_2.bias", "label_emb.0.2.bias"},
      {"down_blocks.0.resnets.1.conv2.weight", "input_blocks.2.0.out_layers.3.weight"},
      {"down_blocks.0.downsamplers.0.conv.weight", "input_blocks.3.0.op.weight"},
      {"down_blocks.1.attentions.0.transformer_blocks.1.attn1.to_q.weight",
       "input_blocks.4.1.transformer_blocks.1.attn1.to_q.weight"},
      {"down_blocks.2.attentions.1.transformer_blocks.9.ff.net.2.weight",
       "input_blocks.8.1.transformer_blocks.9.ff.net.2.weight"},
      {"mid_block.attentions.0.transformer_blocks.9.norm3.bias", "middle_block.1.transformer_blocks.9.norm3.bias"},
      {"up_blocks.0.attentions.2.proj_in.weight", "output_blocks.2.1.proj_in.weight"},
      {"up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.2.conv.weight"},
      {"up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight"},
      {"up_blocks.2.resnets.2.conv_shortcut.weight", "output_blocks.8.0.skip_connection.weight"},
  };
  for (const auto& [name, key] : expected) EXPECT_EQ(ldm(ldm_unet_tensor(c, name)), kLdmUnetPrefix + key) << name;
  EXPECT_FALSE(ldm_unet_tensor(c, "down_blocks.2.downsamplers.0.conv.weight").has_value());
  EXPECT_FALSE(ldm_unet_tensor(c, "up_blocks.2.attentions.0.norm.weight").has_value());
}

TEST(LdmNames, Vae) {
  const VaeConfig c =
      VaeConfig::parse({{"block_out_channels", {128, 256, 512, 512}}, {"layers_per_block", 2}}, "SD VAE");
  const std::map<std::string, std::string> expected = {
      {"encoder.conv_in.weight", "encoder.conv_in.weight"},
      {"encoder.down_blocks.1.resnets.0.conv_shortcut.weight", "encoder.down.1.block.0.nin_shortcut.weight"},
      {"encoder.down_blocks.2.downsamplers.0.conv.bias", "encoder.down.2.downsample.conv.bias"},
      {"encoder.mid_block.resnets.1.norm2.weight", "encoder.mid.block_2.norm2.weight"},
      {"encoder.mid_block.attentions.0.to_out.0.weight", "encoder.mid.attn_1.proj_out.weight"},
      {"encoder.conv_norm_out.bias", "encoder.norm_out.bias"},
      {"quant_conv.weight", "quant_conv.weight"},
      {"post_quant_conv.bias", "post_quant_conv.bias"},
      {"decoder.mid_block.attentions.0.group_norm.weight", "decoder.mid.attn_1.norm.weight"},
      {"decoder.mid_block.attentions.0.to_q.bias", "decoder.mid.attn_1.q.bias"},
      {"decoder.mid_block.resnets.0.conv1.weight", "decoder.mid.block_1.conv1.weight"},
      {"decoder.up_blocks.0.resnets.2.conv2.weight", "decoder.up.3.block.2.conv2.weight"},
      {"decoder.up_blocks.0.upsamplers.0.conv.weight", "decoder.up.3.upsample.conv.weight"},
      {"decoder.up_blocks.3.resnets.0.conv_shortcut.weight", "decoder.up.0.block.0.nin_shortcut.weight"},
      {"decoder.conv_out.weight", "decoder.conv_out.weight"},
  };
  for (const auto& [name, key] : expected) EXPECT_EQ(ldm(ldm_vae_tensor(c, name)), kLdmVaePrefix + key) << name;
  EXPECT_FALSE(ldm_vae_tensor(c, "decoder.up_blocks.4.resnets.0.conv1.weight").has_value());
  EXPECT_FALSE(ldm_vae_tensor(c, "encoder.up_blocks.0.resnets.0.conv1.weight").has_value());
}

TEST(LdmNames, OpenClip) {
  const std::string p = kLdmSd2OpenClipPrefix;
  auto t = ldm_open_clip_tensor(p, "text_model.encoder.layers.22.self_attn.k_proj.bias");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name, p + "transformer.resblocks.22.attn.in_proj_bias");
  EXPECT_EQ(t->qkv_chunk, 1);
  t = ldm_open_clip_tensor(p, "text_model.encoder.layers.0.self_attn.v_proj.weight");
  EXPECT_EQ(t->name, p + "transformer.resblocks.0.attn.in_proj_weight");
  EXPECT_EQ(t->qkv_chunk, 2);
  t = ldm_open_clip_tensor(p, "text_projection.weight");
  EXPECT_EQ(t->name, p + "text_projection");
  EXPECT_TRUE(t->transpose);
  EXPECT_EQ(ldm(ldm_open_clip_tensor(p, "text_model.encoder.layers.3.self_attn.out_proj.weight")),
            p + "transformer.resblocks.3.attn.out_proj.weight");
  EXPECT_EQ(ldm(ldm_open_clip_tensor(p, "text_model.encoder.layers.3.mlp.fc2.bias")),
            p + "transformer.resblocks.3.mlp.c_proj.bias");
  EXPECT_EQ(ldm(ldm_open_clip_tensor(p, "text_model.encoder.layers.3.layer_norm1.weight")),
            p + "transformer.resblocks.3.ln_1.weight");
  EXPECT_EQ(ldm(ldm_open_clip_tensor(p, "text_model.final_layer_norm.bias")), p + "ln_final.bias");
  EXPECT_EQ(ldm(ldm_open_clip_tensor(p, "text_model.embeddings.position_embedding.weight")),
            p + "positional_embedding");
  EXPECT_FALSE(ldm_open_clip_tensor(p, "text_model.encoder.extra.weight").has_value());
}

// Records what a model asks for, handing out views of one zero buffer (no memory).
class RecordingWeights : public WeightSource {
 public:
  static constexpr size_t kBytes = size_t(300) << 20;
  RecordingWeights() : zeros_(std::calloc(kBytes, 1), std::free) {}
  bool has(const std::string&) const override { return true; }
  std::string describe() const override { return "recording"; }
  const std::vector<std::string>& names() const { return names_; }

 protected:
  Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const override {
    names_.push_back(name);
    return Tensor::wrap(zeros_.get(), shape, dtype, zeros_);
  }

 private:
  std::shared_ptr<void> zeros_;
  mutable std::vector<std::string> names_;
};

// Every tensor of the full-size models has an LDM home, and no two share one.
template <class Translate>
void expect_one_to_one(const std::vector<std::string>& names, Translate translate) {
  std::map<std::pair<std::string, int>, std::string> seen;
  for (const auto& n : names) {
    const auto t = translate(n);
    ASSERT_TRUE(t.has_value()) << n << " has no LDM name";
    const auto [it, fresh] = seen.emplace(std::make_pair(t->name, t->qkv_chunk), n);
    EXPECT_TRUE(fresh) << n << " and " << it->second << " both map to " << t->name;
  }
}

TEST(LdmNames, EveryTensorOfTheRealModelsMapsOneToOne) {
  SD_SKIP_WITHOUT_DATA("model-configs");
  SD_SKIP_WITHOUT_DATA("sd15-diffusers-configs");
  const std::string data = test::data_dir();
  for (const std::string& dir :
       {data + "/sd15-diffusers-configs", data + "/model-configs/stabilityai__stable-diffusion-2-1",
        data + "/model-configs/stabilityai__stable-diffusion-xl-base-1.0"}) {
    SCOPED_TRACE(dir);
    const UNetConfig uc = UNetConfig::load(dir + "/unet/config.json");
    RecordingWeights unet_names;
    UNet2DConditionModel unet(uc, unet_names, DType::BF16);
    expect_one_to_one(unet_names.names(), [&](const std::string& n) { return ldm_unet_tensor(uc, n); });

    const VaeConfig vc = VaeConfig::load(dir + "/vae/config.json");
    RecordingWeights vae_names;
    AutoencoderKL vae(vc, vae_names, DType::BF16);
    EXPECT_EQ(vae_names.names().size(), 248u);  // the LDM VAE's tensor count
    expect_one_to_one(vae_names.names(), [&](const std::string& n) { return ldm_vae_tensor(vc, n); });

    const std::string te = fs::exists(dir + "/text_encoder_2") ? "/text_encoder_2" : "/text_encoder";
    const ClipTextConfig tc = ClipTextConfig::load(dir + te + "/config.json");
    RecordingWeights te_names;
    ClipTextModel text(tc, te_names, DType::BF16);
    expect_one_to_one(te_names.names(), [&](const std::string& n) {
      return tc.hidden_act == ops::Activation::GELU ? ldm_open_clip_tensor(kLdmSdxlOpenClipPrefix, n)
                                                    : ldm_clip_tensor(kLdmSd1ClipPrefix, n);
    });
  }
}

// --- OpenCLIP from a file in OpenCLIP naming -----------------------------------------------

// tiny-sdxl's text_encoder_2 (CLIPTextModelWithProjection, 3 layers) rewritten the way
// OpenCLIP stores it, under `prefix`, plus `extra` tensors.
std::string write_open_clip_file(const std::string& prefix, const std::vector<std::pair<std::string, Tensor>>& extra) {
  const auto src = io::SafetensorsFile::open(test::fixture_path("tiny-sdxl/text_encoder_2/model.safetensors"));
  auto get = [&](const std::string& n) { return src.load(n, DType::F32); };
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back(prefix + "token_embedding.weight", get("text_model.embeddings.token_embedding.weight"));
  out.emplace_back(prefix + "positional_embedding", get("text_model.embeddings.position_embedding.weight"));
  out.emplace_back(prefix + "ln_final.weight", get("text_model.final_layer_norm.weight"));
  out.emplace_back(prefix + "ln_final.bias", get("text_model.final_layer_norm.bias"));
  out.emplace_back(prefix + "text_projection", get("text_projection.weight").permute({1, 0}).contiguous());
  for (int i = 0; i < 3; ++i) {
    const std::string hf = "text_model.encoder.layers." + std::to_string(i) + ".";
    const std::string oc = prefix + "transformer.resblocks." + std::to_string(i) + ".";
    for (const char* param : {"weight", "bias"}) {
      const std::string p = param;
      out.emplace_back(oc + "attn.in_proj_" + p,
                       ops::concat({get(hf + "self_attn.q_proj." + p), get(hf + "self_attn.k_proj." + p),
                                    get(hf + "self_attn.v_proj." + p)},
                                   0));
      out.emplace_back(oc + "attn.out_proj." + p, get(hf + "self_attn.out_proj." + p));
      out.emplace_back(oc + "ln_1." + p, get(hf + "layer_norm1." + p));
      out.emplace_back(oc + "ln_2." + p, get(hf + "layer_norm2." + p));
      out.emplace_back(oc + "mlp.c_fc." + p, get(hf + "mlp.fc1." + p));
      out.emplace_back(oc + "mlp.c_proj." + p, get(hf + "mlp.fc2." + p));
    }
  }
  for (const auto& e : extra) out.push_back(e);
  const std::string path = test::temp_dir("ldm_open_clip") + "/open_clip.safetensors";
  io::write_safetensors(path, out);
  return path;
}

// Also with the layers prepared as their weights are read (a CPU load): the q/k/v thirds
// read as rows of the fused matrix, the transposed projection read whole.
TEST(LdmWeights, OpenClipWithProjectionIsTheFolderEncoder) {
  const auto file = open_shared(write_open_clip_file(kLdmSdxlOpenClipPrefix, {}));
  const std::string dir = test::fixture_path("tiny-sdxl/text_encoder_2");
  const ClipTextConfig config = ClipTextConfig::load(dir + "/config.json");
  ASSERT_TRUE(config.with_projection);
  const auto from_folder = ClipTextModel::load(dir, DType::F32);
  const Tensor ids = test::open_reference("tiny-sdxl").load("te2.input_ids", DType::I64);
  for (bool prepared_as_read : {false, true}) {
    const auto weights = ldm_open_clip_weights(file, kLdmSdxlOpenClipPrefix, config);
    if (prepared_as_read) weights->prepare_layers_on(Device::cpu());
    ClipTextModel from_file(config, *weights, DType::F32);
    EXPECT_NO_THROW(weights->require_all_used());
    const ModuleRegistry layers = from_file.modules();
    for (const auto& [path, layer] : layers.modules()) EXPECT_EQ(layer.prepared(), prepared_as_read) << path;

    const ClipTextOutput a = from_file.forward(ids), b = from_folder->forward(ids);
    for (size_t i = 0; i < a.hidden_states.size(); ++i)
      EXPECT_EQ(test::max_abs_diff(a.hidden_states[i], b.hidden_states[i]), 0.0) << "hidden state " << i;
    EXPECT_EQ(test::max_abs_diff(a.text_embeds, b.text_embeds), 0.0) << prepared_as_read;
  }
}

TEST(LdmWeights, Sd2OpenClipIgnoresTheSkippedLayerProjectionAndLogitScale) {
  // SD2 checkpoints hold one more layer than the encoder runs, the projection and
  // logit_scale; CLIPTextModel (no projection) uses none of them.
  const std::string p = kLdmSd2OpenClipPrefix;
  const auto fixture = io::SafetensorsFile::open(test::fixture_path("tiny-sdxl/text_encoder_2/model.safetensors"));
  const auto file = open_shared(write_open_clip_file(
      p, {{p + "transformer.resblocks.3.ln_1.weight", fixture.load("text_model.final_layer_norm.weight", DType::F32)},
          {p + "logit_scale", Tensor::full({1}, 4.6f)}}));
  io::Json j = io::read_json_file(test::fixture_path("tiny-sdxl/text_encoder_2/config.json"));
  j["architectures"] = {"CLIPTextModel"};
  const ClipTextConfig config = ClipTextConfig::parse(j, "test");
  const auto weights = ldm_open_clip_weights(file, p, config);
  const ClipTextModel te(config, *weights, DType::F32);
  EXPECT_NO_THROW(weights->require_all_used());
  const auto from_folder = ClipTextModel::load(test::fixture_path("tiny-sdxl/text_encoder_2"), DType::F32);
  const Tensor ids = test::open_reference("tiny-sdxl").load("te2.input_ids", DType::I64);
  EXPECT_EQ(test::max_abs_diff(te.forward(ids).last_hidden_state, from_folder->forward(ids).last_hidden_state), 0.0);
}

TEST(LdmWeights, FusedQkvMustSplitInThree) {
  const std::string p = kLdmSdxlOpenClipPrefix;
  const std::string path = test::temp_dir("ldm_bad_qkv") + "/bad.safetensors";
  io::write_safetensors(path, {{p + "transformer.resblocks.0.attn.in_proj_weight", Tensor::zeros({4, 2}, DType::F32)}});
  const auto weights = ldm_open_clip_weights(open_shared(path), p, ClipTextConfig{});
  EXPECT_THROW(weights->get("text_model.encoder.layers.0.self_attn.q_proj.weight", {1, 2}, DType::F32), Error);
}

}  // namespace
}  // namespace sd::models
