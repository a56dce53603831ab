// The tiled VAE against diffusers 0.31 (extra-references.safetensors, vae_tiled.*): a
// non-square 24x40 latent (48x80 image) over a 3x5 grid of 24-pixel tiles whose last row and
// column are slivers, decoded and encoded, with the untiled results beside them so the test
// also shows that tiling changed the result.
#include <gtest/gtest.h>

#include "models/autoencoder_kl.h"
#include "reference.h"

namespace sd::models {
namespace {

using test::fixture_path;

io::SafetensorsFile extra_references() {
  return io::SafetensorsFile::open(fixture_path("extra-references.safetensors"));
}

constexpr int kTilePixels = 24;  // tile_sample_min_size of the reference

TEST(AutoencoderKLTiled, DecodeOfANonSquareGridMatchesDiffusers) {
  const auto ref = extra_references();
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  Tensor z = ref.view("vae_tiled.latents").clone();
  for (float* p = z.data<float>(), *e = p + z.numel(); p != e; ++p) *p /= 0.18215f;
  const Tensor tiled = vae->decode_tiled(z, kTilePixels);
  const Tensor want = ref.view("vae_tiled.decoded");
  EXPECT_MATCHES_REFERENCE(tiled, want);
  EXPECT_MATCHES_REFERENCE(vae->decode(z), ref.view("vae_tiled.decoded_untiled"));
  // The reference separates the two: a tiler that fell back to the whole decode fails above.
  EXPECT_GT(test::max_abs_diff(want, ref.view("vae_tiled.decoded_untiled")), 100 * test::reference_tolerance(want));
}

TEST(AutoencoderKLTiled, EncodeOfANonSquareGridMatchesDiffusers) {
  const auto ref = extra_references();
  const auto vae = AutoencoderKL::load(fixture_path("tiny-sd15/vae"));
  const Tensor image = ref.view("vae_tiled.image");
  const Tensor want = ref.view("vae_tiled.encoded_mean");
  EXPECT_MATCHES_REFERENCE(vae->encode_tiled(image, kTilePixels).mean, want);
  EXPECT_MATCHES_REFERENCE(vae->encode(image).mean, ref.view("vae_tiled.encoded_mean_untiled"));
  EXPECT_GT(test::max_abs_diff(want, ref.view("vae_tiled.encoded_mean_untiled")), 100 * test::reference_tolerance(want));
}

}  // namespace
}  // namespace sd::models
