// Whole generations in bf16 against the float32 path of this project, on the same seed:
// the decoded 8-bit image must stay above 35 dB PSNR. The measured figures are printed
// (and recorded as test properties) for the performance notes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "pipeline/pipeline.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

GenerationResult generate(const std::string& model, DType dtype, const std::string& sampler, float guidance) {
  LoadOptions opt;
  opt.model_path = test::fixtures_dir() + "/" + model;
  opt.tokenizer_dir = test::data_dir() + "/clip";
  opt.dtype = dtype;
  GenerationRequest req;
  req.prompt = "a photo of a cat";
  req.steps = 4;
  req.guidance_scale = guidance;
  req.seed = 42;
  req.width = req.height = 64;
  req.sampler = sampler;
  req.keep_latents = true;
  return Pipeline::load(opt)->generate(req, {});
}

double psnr_u8(const io::Image& a, const io::Image& b) {
  double se = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const double d = double(a.pixels[i]) - double(b.pixels[i]);
    se += d * d;
  }
  const double mse = se / double(a.pixels.size());
  return mse == 0 ? INFINITY : 10 * std::log10(255.0 * 255.0 / mse);
}

struct Case {
  const char* model;
  const char* sampler;
  float guidance;
};

class Bf16Pipeline : public ::testing::TestWithParam<Case> {};

TEST_P(Bf16Pipeline, ImageStaysAbove35dB) {
  SD_SKIP_WITHOUT_DATA("clip");
  const Case c = GetParam();
  const GenerationResult f32 = generate(c.model, DType::F32, c.sampler, c.guidance);
  const GenerationResult bf16 = generate(c.model, DType::BF16, c.sampler, c.guidance);
  const double db = psnr_u8(bf16.image, f32.image);
  const double latent_err = test::max_abs_diff(bf16.final_latents, f32.final_latents) / test::max_abs(f32.final_latents);
  std::printf("%s bf16 vs f32: image PSNR %.1f dB, final latents max error %.2e of max|f32|\n", c.model, db,
              latent_err);
  RecordProperty("psnr_db", std::to_string(db));
  RecordProperty("final_latent_max_rel_error", std::to_string(latent_err));
  EXPECT_GE(db, 35.0);
}

INSTANTIATE_TEST_SUITE_P(Tiny, Bf16Pipeline,
                         ::testing::Values(Case{"tiny-sd15", "ddim", 7.5f}, Case{"tiny-sd21v", "ddim", 7.5f},
                                           Case{"tiny-sdxl", "euler", 5.0f}),
                         [](const auto& info) {
                           std::string n = info.param.model;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace sd::pipeline
