// The networks poll the thread's cancellation (core/cancellation.h) between their blocks:
// many times within one UNet call, VAE decode or encode, and text encoding, and a cancel
// seen at any of those polls ends the call with sd::Cancelled. The tiny fixture configs
// with seeded random weights; e2e/cancel_latency_test.cpp times it in the worker and
// sd-bench --cancel-latency at full size.
#include <gtest/gtest.h>

#include <functional>

#include "core/cancellation.h"
#include "loaders/random_weights.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition.h"
#include "support/test_support.h"

namespace sd::models {
namespace {

std::string config(const std::string& part) { return sd::test::fixtures_dir() + "/tiny-sd15/" + part + "/config.json"; }

// How often `fn` polls; then, for a cancel at each of the first, middle and last poll,
// that `fn` ends with sd::Cancelled after exactly that many polls.
int check_polls_and_cancel(const std::function<void()>& fn) {
  int polls = 0;
  {
    const CancellationScope counting([&] { return ++polls, false; });
    fn();
  }
  for (int at : {1, (polls + 1) / 2, polls}) {
    int seen = 0;
    const CancellationScope cancel_at([&] { return ++seen == at; });
    EXPECT_THROW(fn(), Cancelled) << "cancel at poll " << at << " of " << polls;
    EXPECT_EQ(seen, at);
  }
  return polls;
}

TEST(Cancellation, UNetPollsBeforeEveryResnetConvolutionAndTransformerBlock) {
  RandomWeights w(1);
  UNet2DConditionModel unet(UNetConfig::load(config("unet")), w, DType::F32);
  const Tensor sample = Tensor::full({2, 4, 16, 16}, 0.1f);
  const Tensor context = Tensor::full({2, 77, int64_t(unet.config().context_dim())}, 0.1f);
  const int polls = check_polls_and_cancel([&] { unet.forward(sample, {500.f}, context); });
  // tiny-sd15: 2+2 down, 2 mid and 3+3 up resnets (two polls each), 2+1+3 transformers.
  EXPECT_EQ(polls, 2 * 12 + 6);
}

TEST(Cancellation, VaePollsInDecodeEncodeAndEveryTile) {
  RandomWeights w(2);
  AutoencoderKL vae(VaeConfig::load(config("vae")), w, DType::F32);
  const Tensor z = Tensor::full({1, 4, 16, 16}, 0.1f);
  const int decode_polls = check_polls_and_cancel([&] { vae.decode(z); });
  EXPECT_GE(decode_polls, 2 * 4);  // mid block 2 resnets, up blocks 2 x 2
  const Tensor image = Tensor::full({1, 3, 32, 32}, 0.1f);
  EXPECT_GE(check_polls_and_cancel([&] { vae.encode(image); }), 2 * 4);
  // Tiles: each tile's decode polls as a whole decode does.
  const Tensor large = Tensor::full({1, 4, 64, 64}, 0.1f);
  EXPECT_GT(check_polls_and_cancel([&] { vae.decode_tiled(large, 64); }), 4 * decode_polls);
}

TEST(Cancellation, TextEncoderPollsBeforeEveryLayer) {
  RandomWeights w(3);
  const ClipTextConfig c = ClipTextConfig::load(config("text_encoder"));
  ClipTextModel te(c, w, DType::F32);
  std::vector<int32_t> ids(77, 2);
  const Tensor input = Tensor::copy_of(ids.data(), {1, 77}, DType::I32);
  EXPECT_EQ(check_polls_and_cancel([&] { te.forward(input); }), c.num_hidden_layers);
}

TEST(Cancellation, ScopesNestAndNoScopeNeverCancels) {
  check_cancelled();  // no scope: nothing to poll
  const CancellationScope outer([] { return true; });
  EXPECT_THROW(check_cancelled(), Cancelled);
  {
    const CancellationScope inner([] { return false; });
    EXPECT_NO_THROW(check_cancelled());
    const CancellationScope empty({});
    EXPECT_NO_THROW(check_cancelled());
  }
  EXPECT_THROW(check_cancelled(), Cancelled);
}

}  // namespace
}  // namespace sd::models
