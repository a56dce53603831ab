// AutoencoderKL decode and encode against diffusers' outputs in the tiny-sd15 fixture.
#include "models/autoencoder_kl.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "reference.h"

namespace sd::models {
namespace {

using test::fixture_path;
using test::open_reference;

TEST(AutoencoderKL, DecodeMatchesDiffusers) {
  const auto ref = open_reference("tiny-sd15");
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  EXPECT_EQ(vae->scale_factor(), 2);
  EXPECT_FLOAT_EQ(vae->scaling_factor(), 0.18215f);
  // latents / scaling_factor, divided element by element as torch does
  Tensor z = ref.view("vae.decode.latents").clone();
  for (float* p = z.data<float>(), *e = p + z.numel(); p != e; ++p) *p /= 0.18215f;
  const Tensor image = vae->decode(z);
  EXPECT_TRUE(image.is_contiguous());
  EXPECT_MATCHES_REFERENCE(image, ref.view("vae.decode.image"));
}

TEST(AutoencoderKL, EncodeMatchesDiffusers) {
  const auto ref = open_reference("tiny-sd15");
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  const LatentDistribution d = vae->encode(ref.view("vae.encode.image"));
  EXPECT_MATCHES_REFERENCE(d.mean, ref.view("vae.encode.mean"));
  EXPECT_MATCHES_REFERENCE(d.logvar, ref.view("vae.encode.logvar"));
}

TEST(AutoencoderKL, EncodeOfChannelsLastInputIsTheSame) {
  const auto ref = open_reference("tiny-sd15");
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  const Tensor image = ref.view("vae.encode.image");
  const LatentDistribution a = vae->encode(image);
  const LatentDistribution b = vae->encode(image.contiguous(MemoryFormat::ChannelsLast));
  EXPECT_TRUE(test::tensors_close(b.mean, a.mean, 1e-4));
}

TEST(AutoencoderKL, RejectsWrongChannelCounts) {
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  EXPECT_THROW(vae->decode(Tensor::zeros(Shape{1, 3, 8, 8}, DType::F32)), Error);
  EXPECT_THROW(vae->encode(Tensor::zeros(Shape{1, 4, 16, 16}, DType::F32)), Error);
}

}  // namespace
}  // namespace sd::models
