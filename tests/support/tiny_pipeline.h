#pragma once
// The tiny fixture models through the pipeline (test_pipeline): how the tests load them,
// the fixtures' DDIM txt2img call, and the tolerances for comparing with diffusers' runs.
// Header-only: sd_test_support must not depend on the pipeline layer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "io/image.h"
#include "io/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"

namespace sd::test {

// fixtures_dir()/<model> with the CLIP vocabulary from the test data, in float32.
inline pipeline::LoadOptions tiny_load_options(const std::string& model = "tiny-sd15") {
  pipeline::LoadOptions opt;
  opt.model_path = fixtures_dir() + "/" + model;
  opt.tokenizer_dir = data_dir() + "/clip";
  opt.dtype = DType::F32;
  opt.warm_up = false;  // tests/pipeline/warm_up_test.cpp covers it; the others load many times
  return opt;
}

// The fixtures' DDIM call: 4 steps, guidance 7.5, 64x64, the final latents kept. The
// txt2img references use seed 42; img2img used 43 and inpainting 44.
inline pipeline::GenerationRequest tiny_ddim_request(uint64_t seed = 42) {
  pipeline::GenerationRequest req;
  req.prompt = "a photo of a cat";
  req.steps = 4;
  req.guidance_scale = 7.5f;
  req.seed = seed;
  req.width = req.height = 64;
  req.sampler = pipeline::Sampler::Ddim;
  req.keep_latents = true;
  return req;
}

// The 8-bit image within 1 LSB of `want_u8` on at most 1 % of the values (the fixtures'
// pipeline tolerance: float32 differences in summation order flip an occasional rounding).
inline void expect_image_matches(const io::Image& got, const Tensor& want_u8) {
  ASSERT_EQ(got.pixels.size(), size_t(want_u8.numel()));
  const uint8_t* want = want_u8.data<uint8_t>();
  size_t differ = 0;
  int worst = 0;
  for (size_t i = 0; i < got.pixels.size(); ++i) {
    const int d = std::abs(int(got.pixels[i]) - int(want[i]));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  EXPECT_LE(worst, 1);
  EXPECT_LE(double(differ) / double(got.pixels.size()), 0.01);
}

// A DDIM txt2img result against `ref`'s t2i.ddim entries: the final latents within 1e-4
// of max|ref| and the image as above.
inline void expect_ddim_txt2img_matches(const pipeline::GenerationResult& r, const io::SafetensorsFile& ref) {
  const Tensor latents = ref.load("t2i.ddim.latents", DType::F32).narrow(0, 3, 1).squeeze(0);
  EXPECT_TRUE(tensors_close(r.final_latents, latents, 1e-4 * max_abs(latents)));
  expect_image_matches(r.image, ref.view("t2i.ddim.image_u8"));
}

}  // namespace sd::test
