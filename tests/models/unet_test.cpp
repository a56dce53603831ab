// UNet2DConditionModel against diffusers' outputs in the fixtures: SD1 (conv projections,
// 8 heads), SD2-v (linear projections, per-block heads), SDXL (text_time conditioning,
// DownBlock2D first, 2 transformer layers) and a 9-channel inpainting UNet.
#include "models/unet_2d_condition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "reference.h"

namespace sd::models {
namespace {

using test::fixture_path;
using test::open_reference;

std::map<std::string, Tensor> run_traced(const UNet2DConditionModel& unet, const Tensor& sample, float t,
                                         const Tensor& context, const UNetAddedCond* added, Tensor* out) {
  std::map<std::string, Tensor> traced;
  *out = unet.forward(sample, {t}, context, added,
                      [&](const std::string& name, const Tensor& v) { traced[name] = v; });
  return traced;
}

// Every "unet.t981.dbg.<module>" reference must have been traced and match.
void expect_hooks_match(const io::SafetensorsFile& ref, const std::map<std::string, Tensor>& traced) {
  const std::string prefix = "unet.t981.dbg.";
  int checked = 0;
  for (const auto& key : ref.names()) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string module = key.substr(prefix.size());
    SCOPED_TRACE(module);
    auto it = traced.find(module);
    ASSERT_NE(it, traced.end()) << "module not traced";
    EXPECT_MATCHES_REFERENCE(it->second, ref.view(key));
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(UNet2DConditionModel, Sd15MatchesDiffusersAtT981WithHooks) {
  const auto ref = open_reference("tiny-sd15");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"));
  Tensor out;
  const auto traced =
      run_traced(*unet, ref.view("unet.sample"), 981.f, ref.view("unet.encoder_hidden_states"), nullptr, &out);
  expect_hooks_match(ref, traced);
  EXPECT_MATCHES_REFERENCE(out, ref.view("unet.t981.out"));
  EXPECT_TRUE(out.is_contiguous());
  EXPECT_EQ(out.dtype(), DType::F32);
}

TEST(UNet2DConditionModel, Sd15MatchesDiffusersAtT1) {
  const auto ref = open_reference("tiny-sd15");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"));
  const Tensor out = unet->forward(ref.view("unet.sample"), {1.f}, ref.view("unet.encoder_hidden_states"));
  EXPECT_MATCHES_REFERENCE(out, ref.view("unet.t1.out"));
}

// Layers prepared as their weights are read (a CPU load) compute exactly what layers built
// from whole tensors and prepared at their first call compute.
TEST(UNet2DConditionModel, LayersPreparedAsTheyAreReadMatchLayersBuiltFromTensors) {
  const auto ref = open_reference("tiny-sd15");
  for (DType dt : {DType::F32, DType::BF16}) {
    const auto read = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"), dt, Device::cpu());
    const auto built = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"), dt);
    size_t layers = 0;
    const ModuleRegistry registry = read->modules();
    for (const auto& [path, layer] : registry.modules()) {
      EXPECT_TRUE(layer.prepared()) << path;
      ++layers;
    }
    EXPECT_GT(layers, 50u);
    const Tensor a = read->forward(ref.view("unet.sample"), {981.f}, ref.view("unet.encoder_hidden_states"));
    const Tensor b = built->forward(ref.view("unet.sample"), {981.f}, ref.view("unet.encoder_hidden_states"));
    EXPECT_EQ(test::max_abs_diff(a, b), 0.0) << dtype_name(dt);
  }
}

TEST(UNet2DConditionModel, OneTimestepPerRowEqualsSeparateCalls) {
  const auto ref = open_reference("tiny-sd15");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"));
  const Tensor out = unet->forward(ref.view("unet.sample"), {981.f, 1.f}, ref.view("unet.encoder_hidden_states"));
  EXPECT_MATCHES_REFERENCE(out.select(0, 0), ref.view("unet.t981.out").select(0, 0));
  EXPECT_MATCHES_REFERENCE(out.select(0, 1), ref.view("unet.t1.out").select(0, 1));
}

TEST(UNet2DConditionModel, Sd21VMatchesDiffusers) {
  const auto ref = open_reference("tiny-sd21v");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd21v/unet"));
  for (float t : {981.f, 1.f}) {
    SCOPED_TRACE(t);
    const Tensor out = unet->forward(ref.view("unet.sample"), {t}, ref.view("unet.encoder_hidden_states"));
    EXPECT_MATCHES_REFERENCE(out, ref.view(t > 500 ? "unet.t981.out" : "unet.t1.out"));
  }
}

TEST(UNet2DConditionModel, SdxlTextTimeMatchesDiffusers) {
  const auto ref = open_reference("tiny-sdxl");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sdxl/unet"));
  const UNetAddedCond added{ref.view("unet.text_embeds"), ref.view("unet.time_ids")};
  Tensor out;
  const auto traced =
      run_traced(*unet, ref.view("unet.sample"), 981.f, ref.view("unet.encoder_hidden_states"), &added, &out);
  expect_hooks_match(ref, traced);
  EXPECT_MATCHES_REFERENCE(out, ref.view("unet.t981.out"));
}

TEST(UNet2DConditionModel, SdxlRequiresTheAddedConditioning) {
  const auto ref = open_reference("tiny-sdxl");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sdxl/unet"));
  EXPECT_THROW(unet->forward(ref.view("unet.sample"), {981.f}, ref.view("unet.encoder_hidden_states")), Error);
  // time ids of the wrong count embed to the wrong width
  const UNetAddedCond bad{ref.view("unet.text_embeds"), ref.view("unet.time_ids").narrow(1, 0, 5).contiguous()};
  EXPECT_THROW(unet->forward(ref.view("unet.sample"), {981.f}, ref.view("unet.encoder_hidden_states"), &bad), Error);
}

// The first denoising step of the inpainting pipeline: 9 input channels (latents, mask,
// masked-image latents); the context is tiny-sd15's, whose text encoder it shares.
TEST(UNet2DConditionModel, InpaintNineChannelsMatchesDiffusers) {
  const auto ref = open_reference("tiny-sd15-inpaint");
  const auto context_ref = open_reference("tiny-sd15");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd15-inpaint/unet"));
  EXPECT_EQ(unet->config().in_channels, 9);
  const float t = float(ref.view("inpaint.timesteps").to(DType::F32).to_floats()[0]);
  const Tensor out = unet->forward(ref.view("inpaint.unet_input").select(0, 0), {t},
                                   context_ref.view("te.last_hidden_state"));
  EXPECT_MATCHES_REFERENCE(out, ref.view("inpaint.unet_output").select(0, 0));
}

// A latent whose size is not a multiple of 2^downsamplers: the downsampling convs round
// up, and diffusers then upsamples to each skip's size (there is no diffusers reference
// at this size; a wrong size would fail at the skip concatenation).
TEST(UNet2DConditionModel, OddLatentSizeRuns) {
  const auto ref = open_reference("tiny-sd15");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"));
  const Tensor sample = ref.view("unet.sample").narrow(0, 0, 1).narrow(2, 0, 31).narrow(3, 0, 29).contiguous();
  const Tensor out = unet->forward(sample, {981.f}, ref.view("unet.encoder_hidden_states").narrow(0, 0, 1).contiguous());
  EXPECT_EQ(out.shape(), (Shape{1, 4, 31, 29}));
  for (float v : out.to_floats()) ASSERT_TRUE(std::isfinite(v));
}

// center_input_sample maps the sample to 2x - 1 before conv_in.
TEST(UNet2DConditionModel, CenterInputSampleIsTwoXMinusOne) {
  const std::string dir = fixture_path("tiny-sd15/unet");
  const auto weights = SafetensorsWeights::open_component(dir);
  UNetConfig config = UNetConfig::load(dir + "/config.json");
  const UNet2DConditionModel plain(config, *weights);
  config.center_input_sample = true;
  const UNet2DConditionModel centered(config, *weights);
  const auto ref = open_reference("tiny-sd15");
  const Tensor sample = ref.view("unet.sample").narrow(0, 0, 1).narrow(2, 0, 8).narrow(3, 0, 8).contiguous();
  Tensor mapped = sample.clone();
  for (float* p = mapped.data<float>(), *e = p + mapped.numel(); p != e; ++p) *p = 2.f * *p - 1.f;
  const Tensor context = ref.view("unet.encoder_hidden_states").narrow(0, 0, 1).contiguous();
  EXPECT_TRUE(test::tensors_close(centered.forward(sample, {500.f}, context), plain.forward(mapped, {500.f}, context),
                                  1e-5));
}

TEST(UNet2DConditionModel, RejectsInputsOfTheWrongShape) {
  const auto ref = open_reference("tiny-sd15");
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"));
  const Tensor sample = ref.view("unet.sample");
  const Tensor ehs = ref.view("unet.encoder_hidden_states");
  EXPECT_THROW(unet->forward(sample.narrow(1, 0, 3).contiguous(), {981.f}, ehs), Error);
  EXPECT_THROW(unet->forward(sample, {981.f, 1.f, 2.f}, ehs), Error);
  EXPECT_THROW(unet->forward(sample, {981.f}, ehs.narrow(0, 0, 1).contiguous()), Error);
  const UNetAddedCond added{Tensor::zeros(Shape{2, 4}, DType::F32), Tensor::zeros(Shape{2, 6}, DType::F32)};
  EXPECT_THROW(unet->forward(sample, {981.f}, ehs, &added), Error);
}

TEST(UNet2DConditionModel, MisShapedWeightErrorNamesFileAndTensor) {
  const std::string dir = fixture_path("tiny-sd15/unet");
  UNetConfig config = UNetConfig::load(dir + "/config.json");
  config.cross_attention_dim.assign(config.cross_attention_dim.size(), 48);
  const auto weights = SafetensorsWeights::open_component(dir);
  try {
    UNet2DConditionModel unet(config, *weights);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dir + "/diffusion_pytorch_model.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"), std::string::npos)
        << msg;
  }
}

// A config describing fewer transformer layers than the file holds builds (every tensor
// it asks for exists), but the unused weights reveal the mismatch.
TEST(UNet2DConditionModel, WeightsTheConfigDoesNotUseAreAnError) {
  const std::string dir = fixture_path("tiny-sdxl/unet");
  UNetConfig config = UNetConfig::load(dir + "/config.json");
  config.transformer_layers_per_block = {1, 1};
  const auto weights = SafetensorsWeights::open_component(dir);
  UNet2DConditionModel unet(config, *weights);
  try {
    weights->require_all_used();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dir + "/diffusion_pytorch_model.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("transformer_blocks.1."), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace sd::models
