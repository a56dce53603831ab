// Whole generations in bf16 against the float32 path of this project, on the same seed:
// the decoded 8-bit image must stay above 35 dB PSNR. The measured figures are printed
// (and recorded as test properties) for the performance notes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "ops/flop_count.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

struct Bf16Run {
  GenerationResult result;
  DType reported;        // the pipeline's ModelInfo::dtype
  double bf16_share;     // of the matrix FLOPs, with bf16 weights and activations
};

Bf16Run generate(const std::string& model, DType dtype, const std::string& sampler, float guidance) {
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
  req.sampler = pipeline::parse_sampler(sampler)->sampler;
  req.keep_latents = true;
  auto pipe = Pipeline::load(opt);
  ops::reset_flop_count();
  Bf16Run run{pipe->generate(req, {}), pipe->info().dtype, 0};
  run.bf16_share = ops::bf16_flops_counted() / ops::flops_counted();
  return run;
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
  const Bf16Run f32_run = generate(c.model, DType::F32, c.sampler, c.guidance);
  const Bf16Run bf16_run = generate(c.model, DType::BF16, c.sampler, c.guidance);
  const GenerationResult& f32 = f32_run.result;
  const GenerationResult& bf16 = bf16_run.result;
  // bf16 in effect: reported, and nearly all the arithmetic of the whole job done in bf16
  // (a loader that fell back to float32 would otherwise pass at infinite PSNR).
  EXPECT_EQ(bf16_run.reported, DType::BF16);
  EXPECT_GE(bf16_run.bf16_share, 0.95);
  EXPECT_EQ(f32_run.reported, DType::F32);
  EXPECT_EQ(f32_run.bf16_share, 0.0);
  const double db = test::psnr(bf16.image, f32.image);
  const double latent_err = test::max_abs_diff(bf16.final_latents, f32.final_latents) / test::max_abs(f32.final_latents);
  std::printf("%s bf16 vs f32: image PSNR %.1f dB, final latents max error %.2e of max|f32|, %.4f of FLOPs in bf16\n",
              c.model, db, latent_err, bf16_run.bf16_share);
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
