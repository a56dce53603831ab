// Previews and the TAESD fast decode in the pipeline, on the tiny SD1.x fixture. No SD
// TAESD weights exist here, so the TAESD is a tiny random-weight AutoencoderTiny in a
// diffusers folder, shaped to the fixture (4 latent channels, 2x upscaling like its
// VAE): it checks the wiring (cadence, sizes, which latents are decoded), not the
// quality of a real TAESD (tests/models/taesd_test.cpp checks real weights).
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "io/image.h"
#include "io/json_file.h"
#include "loaders/random_weights.h"
#include "models/taesd.h"
#include "pipeline/image_convert.h"
#include "pipeline/pipeline.h"
#include "pipeline/preview_decoder.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

using Strings = std::vector<std::string>;
using test::error_of;

// Seeded random weights that remember what the model asked for, to be written out.
class RecordingWeights : public models::WeightSource {
 public:
  bool has(const std::string&) const override { return true; }
  std::string describe() const override { return "recorded random weights"; }
  const std::vector<std::pair<std::string, Tensor>>& tensors() const { return tensors_; }

 protected:
  Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const override {
    Tensor t = random_.get(name, shape, dtype);
    tensors_.emplace_back(name, t);
    return t;
  }

 private:
  models::RandomWeights random_{11};
  mutable std::vector<std::pair<std::string, Tensor>> tensors_;
};

// A diffusers AutoencoderTiny folder whose decoder upscales 2^(stages-1) times.
std::string tiny_taesd_folder(int stages) {
  const std::string dir = test::temp_dir("tiny-taesd");
  io::Json config = {{"_class_name", "AutoencoderTiny"},
                     {"latent_channels", 4},
                     {"encoder_block_out_channels", std::vector<int>(size_t(stages), 16)},
                     {"decoder_block_out_channels", std::vector<int>(size_t(stages), 16)},
                     {"num_encoder_blocks", std::vector<int>(size_t(stages), 1)},
                     {"num_decoder_blocks", std::vector<int>(size_t(stages), 1)},
                     {"scaling_factor", 1.0}};
  std::ofstream(dir + "/config.json") << config.dump(2);
  RecordingWeights weights;
  const models::Taesd build(models::TaesdConfig::parse(config, "tiny config"), weights);
  io::write_safetensors(dir + "/diffusion_pytorch_model.safetensors", weights.tensors());
  return dir;
}

LoadOptions tiny_sd15(const std::string& taesd_path = "") {
  LoadOptions opt = test::tiny_load_options();
  opt.taesd_path = taesd_path;
  return opt;
}

GenerationRequest request(PreviewMode mode, int steps, int every) {
  GenerationRequest req;
  req.prompt = "a photo of a cat";
  req.steps = steps;
  req.guidance_scale = 1.0f;  // no CFG: half the UNet work, and previews do not depend on it
  req.seed = 42;
  req.width = req.height = 64;
  req.sampler = pipeline::Sampler::Euler;
  req.preview = mode;
  req.preview_every = every;
  return req;
}

struct Preview {
  int step, total;
  io::Image image;
};

std::vector<Preview> run(Pipeline& pipe, const GenerationRequest& req, GenerationResult* result = nullptr) {
  std::vector<Preview> previews;
  GenerationCallbacks cb;
  cb.on_preview = [&](int step, int total, const io::Image& img) { previews.push_back({step, total, img}); };
  GenerationResult r = pipe.generate(req, cb);
  if (result) *result = std::move(r);
  return previews;
}

std::vector<int> steps_of(const std::vector<Preview>& previews) {
  std::vector<int> steps;
  for (const auto& p : previews) steps.push_back(p.step);
  return steps;
}

// The image survives PNG encoding and decoding unchanged.
void expect_decodable(const io::Image& img, int width, int height) {
  EXPECT_EQ(img.width, width);
  EXPECT_EQ(img.height, height);
  ASSERT_EQ(img.channels, 3);
  ASSERT_EQ(img.pixels.size(), size_t(width) * size_t(height) * 3);
  const io::Image back = io::decode_image(io::encode_png(img));
  EXPECT_EQ(back.width, width);
  EXPECT_EQ(back.pixels, img.pixels);
}

int max_pixel_diff(const io::Image& a, const io::Image& b) {
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i)
    worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return worst;
}

TEST(Previews, TaesdPreviewsFollowTheCadenceAtImageSize) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(tiny_sd15(tiny_taesd_folder(2)));
  EXPECT_EQ(pipe->info().preview_modes, (Strings{"none", "latent", "taesd"}));
  EXPECT_EQ(pipe->info().decoders, (Strings{"vae", "taesd"}));

  const auto previews = run(*pipe, request(PreviewMode::Taesd, 5, 2));
  EXPECT_EQ(steps_of(previews), (std::vector<int>{2, 4, 5}));  // the last step always gets one
  for (const auto& p : previews) {
    EXPECT_EQ(p.total, 5);
    expect_decodable(p.image, 64, 64);
  }
  EXPECT_GT(max_pixel_diff(previews[0].image, previews[2].image), 0);  // each step's own latents
}

TEST(Previews, LatentPreviewsAreAtLatentSize) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(tiny_sd15(tiny_taesd_folder(2)));
  const auto previews = run(*pipe, request(PreviewMode::LatentRgb, 3, 2));
  EXPECT_EQ(steps_of(previews), (std::vector<int>{2, 3}));
  for (const auto& p : previews) expect_decodable(p.image, 32, 32);
  EXPECT_TRUE(run(*pipe, request(PreviewMode::None, 1, 1)).empty());
}

// The fast decode is TAESD's decode of the final latents, and the last step's preview
// decodes Euler's last x0 estimate, which is the final latents up to rounding.
TEST(Previews, FastDecodeIsTaesdOfTheFinalLatents) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string taesd_dir = tiny_taesd_folder(2);
  auto pipe = Pipeline::load(tiny_sd15(taesd_dir));
  GenerationRequest req = request(PreviewMode::Taesd, 2, 0);
  req.decoder = FinalDecoder::Taesd;
  req.keep_latents = true;
  GenerationResult fast;
  const auto previews = run(*pipe, req, &fast);
  EXPECT_TRUE(fast.timings.count("taesd_decode"));
  EXPECT_FALSE(fast.timings.count("vae_decode"));

  const auto taesd = models::Taesd::load(taesd_dir);
  const io::Image want = tensor_to_image(taesd->decode(fast.final_latents));
  EXPECT_EQ(fast.image.pixels, want.pixels);
  ASSERT_EQ(steps_of(previews), (std::vector<int>{2}));
  EXPECT_LE(max_pixel_diff(previews[0].image, fast.image), 1);

  req.decoder = FinalDecoder::Vae;
  GenerationResult full;
  run(*pipe, req, &full);
  EXPECT_TRUE(full.timings.count("vae_decode"));
  EXPECT_GT(max_pixel_diff(full.image, fast.image), 10);  // a different decoder, same latents
}

TEST(Previews, WithoutTaesdPreviewsFallBackAndFastDecodeIsRefused) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(tiny_sd15());
  EXPECT_EQ(pipe->info().preview_modes, (Strings{"none", "latent"}));
  EXPECT_EQ(pipe->info().decoders, (Strings{"vae"}));
  const auto previews = run(*pipe, request(PreviewMode::Taesd, 2, 1));
  ASSERT_EQ(steps_of(previews), (std::vector<int>{1, 2}));
  for (const auto& p : previews) expect_decodable(p.image, 32, 32);

  GenerationRequest req = request(PreviewMode::None, 2, 1);
  req.decoder = FinalDecoder::Taesd;
  int progress_calls = 0;
  GenerationCallbacks cb;
  cb.on_progress = [&](int, int) { ++progress_calls; };
  EXPECT_THROW(pipe->generate(req, cb), Error);
  EXPECT_EQ(progress_calls, 0);  // refused before denoising
}

TEST(Previews, UnfitTaesdIsRefusedAtLoad) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string missing = test::temp_dir("no-taesd") + "/taesd_decoder.safetensors";
  EXPECT_NE(error_of([&] { Pipeline::load(tiny_sd15(missing)); }).find(missing), std::string::npos);
  // 8x upscaling (the real TAESD layout) where the tiny VAE upscales 2x.
  EXPECT_NE(error_of([&] { Pipeline::load(tiny_sd15(tiny_taesd_folder(4))); }).find("upscales latents 8x"),
            std::string::npos);
}

TEST(Previews, TaesdOfAnotherLatentSpaceIsRefusedAtLoad) {
  SD_SKIP_WITHOUT_DATA("clip");
  SD_SKIP_WITHOUT_DATA("taesd");
  // FLUX.2's 32-channel TAESD for a 4-channel UNet
  const std::string taef2 = test::data_dir() + "/taesd/taef2_decoder.safetensors";
  EXPECT_NE(error_of([&] { Pipeline::load(tiny_sd15(taef2)); }).find("decodes 32 latent channels"),
            std::string::npos);
  const std::string encoder_only = test::data_dir() + "/taesd/taef2_encoder.safetensors";
  EXPECT_NE(error_of([&] { Pipeline::load(tiny_sd15(encoder_only)); }).find("encoder weights only"),
            std::string::npos);
}

TEST(Previews, ModeNames) {
  for (PreviewMode m : {PreviewMode::None, PreviewMode::LatentRgb, PreviewMode::Taesd})
    EXPECT_EQ(parse_preview_mode(preview_mode_name(m)), m);
  EXPECT_EQ(parse_preview_mode("latent"), PreviewMode::LatentRgb);
  EXPECT_FALSE(parse_preview_mode("vae").has_value());
  EXPECT_FALSE(parse_preview_mode("").has_value());
}

}  // namespace
}  // namespace sd::pipeline
