// AutoencoderKL decode and encode against diffusers' outputs in the tiny-sd15 fixture.
#include "models/autoencoder_kl.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

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

Tensor fixture_latents(const io::SafetensorsFile& ref) {
  Tensor z = ref.view("vae.decode.latents").clone();
  for (float* p = z.data<float>(), *e = p + z.numel(); p != e; ++p) *p /= 0.18215f;
  return z;
}

float at(const Tensor& t, int64_t c, int64_t y, int64_t x) {
  return t.data<float>()[(c * t.size(2) + y) * t.size(3) + x];
}

TEST(AutoencoderKL, TiledDecodeOfOneTileIsTheWholeDecode) {
  const auto ref = open_reference("tiny-sd15");
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  const Tensor z = fixture_latents(ref);  // 32x32 latents: one 64-pixel tile
  EXPECT_TRUE(test::tensors_close(vae->decode_tiled(z), vae->decode(z), 0.0));
  EXPECT_EQ(vae->resolve_tile_size(0), 64) << "diffusers' default tile: the config's sample_size";
}

TEST(AutoencoderKL, TiledDecodeBlendsNeighbouringTilesAsDiffusers) {
  const auto ref = open_reference("tiny-sd15");
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  const Tensor z = fixture_latents(ref);
  // 32-pixel tiles = 16 latents, every 12 latents (24 pixels kept), 8-pixel blends: tiles
  // start at latents 0, 12 and 24 (the last one 8 wide) in both directions.
  const Tensor tiled = vae->decode_tiled(z, 32);
  ASSERT_EQ(tiled.shape(), (Shape{1, 3, 64, 64}));
  const Tensor t00 = vae->decode(z.narrow(2, 0, 16).narrow(3, 0, 16).contiguous());
  const Tensor t01 = vae->decode(z.narrow(2, 0, 16).narrow(3, 12, 16).contiguous());
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 24; y += 5) {
      for (int64_t x = 0; x < 24; x += 3) EXPECT_EQ(at(tiled, c, y, x), at(t00, c, y, x)) << "the first tile as decoded";
      for (int64_t x = 0; x < 8; ++x) {
        const float w = float(double(x) / 8.0), v = float(1.0 - double(x) / 8.0);
        const float want = at(t00, c, y, 24 + x) * v + at(t01, c, y, x) * w;
        EXPECT_NEAR(at(tiled, c, y, 24 + x), want, 1e-6 * (1 + std::abs(want)))
            << "the second tile fades in over the first at row " << y << " column " << 24 + x;
      }
      EXPECT_EQ(at(tiled, c, y, 32), at(t01, c, y, 8)) << "past the blend: the second tile alone";
    }
  // Per-tile group norm statistics make tiles differ from the whole decode a little; the
  // blends keep that from showing as seams.
  const Tensor whole = vae->decode(z);
  const double psnr = test::psnr(tiled, whole, test::max_abs(whole));
  EXPECT_GT(psnr, 20.0) << "tiled vs whole decode";
  std::printf("tiled decode (32-pixel tiles) vs whole: PSNR %.1f dB\n", psnr);
}

TEST(AutoencoderKL, TiledEncodeBlendsNeighbouringTilesAsDiffusers) {
  const auto ref = open_reference("tiny-sd15");
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  const Tensor image = ref.view("vae.encode.image");  // 64x64: one tile at the default size
  ASSERT_EQ(image.shape(), (Shape{1, 3, 64, 64}));
  EXPECT_TRUE(test::tensors_close(vae->encode_tiled(image).mean, vae->encode(image).mean, 0.0));
  // 32-pixel tiles every 24 pixels give 16-latent outputs blended over 4 and cropped to 12.
  const LatentDistribution tiled = vae->encode_tiled(image, 32);
  ASSERT_EQ(tiled.mean.shape(), (Shape{1, 4, 32, 32}));
  const Tensor t00 = vae->encode(image.narrow(2, 0, 32).narrow(3, 0, 32).contiguous()).mean;
  const Tensor t01 = vae->encode(image.narrow(2, 0, 32).narrow(3, 24, 32).contiguous()).mean;
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t y = 0; y < 12; y += 3) {
      for (int64_t x = 0; x < 12; x += 2) EXPECT_EQ(at(tiled.mean, c, y, x), at(t00, c, y, x));
      for (int64_t x = 0; x < 4; ++x) {
        const float w = float(double(x) / 4.0), v = float(1.0 - double(x) / 4.0);
        const float want = at(t00, c, y, 12 + x) * v + at(t01, c, y, x) * w;
        EXPECT_NEAR(at(tiled.mean, c, y, 12 + x), want, 1e-6 * (1 + std::abs(want)));
      }
    }
}

TEST(AutoencoderKL, TiledDecodeRejectsTileSizesThatDoNotTileExactly) {
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  const Tensor z = Tensor::zeros(Shape{1, 4, 32, 32}, DType::F32);
  for (int bad : {8, 30, 36, -16}) EXPECT_THROW(vae->decode_tiled(z, bad), Error) << bad;
  EXPECT_EQ(vae->resolve_tile_size(40), 40);
}

}  // namespace
}  // namespace sd::models
