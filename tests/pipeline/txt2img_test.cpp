// The tiny SD1.x / SD2.x-v / SDXL pipelines against diffusers' own txt2img runs: the
// final latents, the decoded image and its 8-bit version.
#include <gtest/gtest.h>

#include <cmath>

#include "io/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

struct Case {
  const char* model;
  const char* sampler;
  float guidance;
  const char* ref_prefix;  // e.g. "t2i.ddim"
};

std::unique_ptr<Pipeline> load_tiny(const std::string& model) {
  LoadOptions opt;
  opt.model_path = test::fixtures_dir() + "/" + model;
  opt.tokenizer_dir = test::data_dir() + "/clip";
  opt.dtype = DType::F32;
  return Pipeline::load(opt);
}

class Txt2Img : public ::testing::TestWithParam<Case> {};

TEST_P(Txt2Img, MatchesDiffusers) {
  SD_SKIP_WITHOUT_DATA("clip");
  const Case c = GetParam();
  auto pipe = load_tiny(c.model);
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/" + c.model + "/reference.safetensors");
  const std::string p = c.ref_prefix;

  GenerationRequest req;
  req.prompt = "a photo of a cat";
  req.steps = 4;
  req.guidance_scale = c.guidance;
  req.seed = 42;
  req.width = req.height = 64;
  req.sampler = pipeline::parse_sampler(c.sampler)->sampler;
  req.keep_latents = true;
  std::vector<int> progress;
  GenerationCallbacks cb;
  cb.on_progress = [&](int step, int total) {
    EXPECT_EQ(total, 4);
    progress.push_back(step);
  };
  GenerationResult r = pipe->generate(req, cb);
  EXPECT_EQ(progress, (std::vector<int>{1, 2, 3, 4}));

  const Tensor ref_latents = ref.load(p + ".latents", DType::F32).narrow(0, 3, 1).squeeze(0);
  EXPECT_TRUE(test::tensors_close(r.final_latents, ref_latents, 1e-4 * test::max_abs(ref_latents)));

  const Tensor ref_u8 = ref.view(p + ".image_u8");  // [1,64,64,3]
  const uint8_t* want = ref_u8.data<uint8_t>();
  ASSERT_EQ(r.image.pixels.size(), size_t(ref_u8.numel()));
  size_t differ = 0;
  int worst = 0;
  for (size_t i = 0; i < r.image.pixels.size(); ++i) {
    int d = std::abs(int(r.image.pixels[i]) - int(want[i]));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  EXPECT_LE(worst, 1);
  EXPECT_LE(double(differ) / double(r.image.pixels.size()), 0.01);
}

INSTANTIATE_TEST_SUITE_P(Tiny, Txt2Img,
                         ::testing::Values(Case{"tiny-sd15", "ddim", 7.5f, "t2i.ddim"},
                                           Case{"tiny-sd15", "euler", 7.5f, "t2i.euler"},
                                           Case{"tiny-sd15", "dpmpp_2m", 7.5f, "t2i.dpmpp_2m"},
                                           Case{"tiny-sd21v", "ddim", 7.5f, "t2i.ddim"},
                                           Case{"tiny-sdxl", "euler", 5.0f, "t2i.euler"}),
                         [](const auto& info) {
                           std::string n = std::string(info.param.model) + "_" + info.param.sampler;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace sd::pipeline
