// The bf16 compute path against this project's float32 path on the same weights (the
// fixtures' diffusers references are float32-only). bf16 keeps 8 significant bits, so a
// few layers deep the outputs agree to about 1 % of their range: the bounds below are
// 3 % of max|f32| (about 3x what the tiny models show) and 40 dB PSNR for the image.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition.h"
#include "ops/flop_count.h"
#include "reference.h"

namespace sd::models {
namespace {

using test::fixture_path;
using test::open_reference;

::testing::AssertionResult close_to_f32(const Tensor& bf16_out, const Tensor& f32_out) {
  if (bf16_out.dtype() != DType::F32) return ::testing::AssertionFailure() << "output is " << bf16_out.desc();
  return test::tensors_close(bf16_out, f32_out, 3e-2 * test::max_abs(f32_out));
}

// The share of the matrix arithmetic (ops' FLOP count) `run` did with bf16 weights and
// bf16 activations. A model that silently ran float32 would score 0 here; only the first
// op, fed float32 latents, may count as float32.
template <class Fn>
double bf16_share(Fn run) {
  ops::reset_flop_count();
  run();
  EXPECT_GT(ops::flops_counted(), 0.0);
  return ops::bf16_flops_counted() / ops::flops_counted();
}

TEST(Bf16, ClipTextModelsFollowF32) {
  const auto ref = open_reference("tiny-sdxl");
  for (const auto& [dir, ids] : {std::pair{"tiny-sdxl/text_encoder", "te1.input_ids"},
                                 std::pair{"tiny-sdxl/text_encoder_2", "te2.input_ids"}}) {
    SCOPED_TRACE(dir);
    const auto f32 = ClipTextModel::load(fixture_path(dir), DType::F32)->forward(ref.view(ids));
    const auto bf16 = ClipTextModel::load(fixture_path(dir), DType::BF16)->forward(ref.view(ids));
    EXPECT_TRUE(close_to_f32(bf16.last_hidden_state, f32.last_hidden_state));
    EXPECT_TRUE(close_to_f32(bf16.hidden_states.end()[-2], f32.hidden_states.end()[-2]));
    if (f32.text_embeds.defined()) {
      EXPECT_TRUE(close_to_f32(bf16.text_embeds, f32.text_embeds));
    }
  }
}

TEST(Bf16, UNetFollowsF32) {
  const auto ref = open_reference("tiny-sdxl");
  const UNetAddedCond added{ref.view("unet.text_embeds"), ref.view("unet.time_ids")};
  auto run = [&](DType dtype) {
    return UNet2DConditionModel::load(fixture_path("tiny-sdxl/unet"), dtype)
        ->forward(ref.view("unet.sample"), {981.f}, ref.view("unet.encoder_hidden_states"), &added);
  };
  const Tensor bf16 = run(DType::BF16), f32 = run(DType::F32);
  const double err = test::max_abs_diff(bf16, f32) / test::max_abs(f32);
  std::printf("UNet eps bf16 vs f32: max error %.2e of max|f32|\n", err);
  RecordProperty("eps_max_rel_error", std::to_string(err));
  EXPECT_TRUE(close_to_f32(bf16, f32));
}

TEST(Bf16, VaeFollowsF32) {
  const auto ref = open_reference("tiny-sd15");
  const auto f32 = AutoencoderKL::load(fixture_path("tiny-sd15/vae"), DType::F32);
  const auto bf16 = AutoencoderKL::load(fixture_path("tiny-sd15/vae"), DType::BF16);
  const Tensor z = ref.view("vae.decode.latents");
  const Tensor image = f32->decode(z);
  EXPECT_GT(test::psnr(bf16->decode(z), image, 2.0), 40.0);  // an image in [-1, 1]
  const Tensor x = ref.view("vae.encode.image");
  EXPECT_TRUE(close_to_f32(bf16->encode(x).mean, f32->encode(x).mean));
}

// bf16 is in effect, not only requested: every model reports it and does (nearly) all
// its arithmetic with bf16 weights and activations; the float32 models do none.
TEST(Bf16, ModelsComputeInBf16) {
  const auto ref = open_reference("tiny-sdxl");
  const UNetAddedCond added{ref.view("unet.text_embeds"), ref.view("unet.time_ids")};
  for (DType dtype : {DType::BF16, DType::F32}) {
    SCOPED_TRACE(dtype_name(dtype));
    const double want = dtype == DType::BF16 ? 0.95 : 0.0;
    const auto te = ClipTextModel::load(fixture_path("tiny-sdxl/text_encoder"), dtype);
    const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sdxl/unet"), dtype);
    const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"), dtype);
    EXPECT_EQ(te->dtype(), dtype);
    EXPECT_EQ(unet->dtype(), dtype);
    EXPECT_EQ(vae->dtype(), dtype);
    const double shares[] = {
        bf16_share([&] { te->forward(ref.view("te1.input_ids")); }),
        bf16_share([&] {
          unet->forward(ref.view("unet.sample"), {981.f}, ref.view("unet.encoder_hidden_states"), &added);
        }),
        bf16_share([&] { vae->decode(open_reference("tiny-sd15").view("vae.decode.latents")); }),
        bf16_share([&] { vae->encode(open_reference("tiny-sd15").view("vae.encode.image")); })};
    for (double share : shares) {
      std::printf("%s: %.4f of the FLOPs in bf16\n", std::string(dtype_name(dtype)).c_str(), share);
      if (dtype == DType::BF16)
        EXPECT_GE(share, want);
      else
        EXPECT_EQ(share, 0.0);
    }
  }
}

}  // namespace
}  // namespace sd::models
