// img2img and inpainting against diffusers' own runs on the tiny fixtures, and the
// invariant of inpainting with an ordinary 4-channel model: outside the mask the result
// is the original's latents, whatever the prompt.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

io::Image image_from(const Tensor& u8 /* [1,H,W,C] or [1,H,W] */) {
  io::Image img;
  img.height = int(u8.size(1));
  img.width = int(u8.size(2));
  img.channels = u8.ndim() == 4 ? int(u8.size(3)) : 1;
  const uint8_t* p = u8.data<uint8_t>();
  img.pixels.assign(p, p + u8.numel());
  return img;
}

io::SafetensorsFile inpaint_reference() {
  return io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15-inpaint/reference.safetensors");
}

// diffusers' inpainting call on the fixtures: the reference's image and mask, strength 1.
GenerationRequest inpaint_request(const io::SafetensorsFile& ref) {
  GenerationRequest req = test::tiny_ddim_request(44);
  req.operation = Operation::Inpaint;
  req.strength = 1.0f;
  req.init_image = image_from(ref.view("inpaint.input_image_u8"));
  req.mask_image = image_from(ref.view("inpaint.input_mask_u8"));
  return req;
}

TEST(Img2Img, MatchesDiffusers) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options());
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  GenerationRequest req = test::tiny_ddim_request(43);
  req.operation = Operation::Img2Img;
  req.strength = 0.5f;
  req.init_image = image_from(ref.view("i2i.input_image_u8"));
  std::vector<int> steps;
  GenerationCallbacks cb;
  cb.on_progress = [&](int step, int total) {
    EXPECT_EQ(total, 2);  // int(4 * 0.5) steps run
    steps.push_back(step);
  };
  GenerationResult r = pipe->generate(req, cb);
  EXPECT_EQ(steps, (std::vector<int>{1, 2}));
  const Tensor want = ref.load("i2i.latents", DType::F32).select(0, 1);
  EXPECT_TRUE(test::tensors_close(r.final_latents, want, 1e-4 * test::max_abs(want)));
  test::expect_image_matches(r.image, ref.view("i2i.image_u8"));
}

TEST(Inpaint, NineChannelModelMatchesDiffusers) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options("tiny-sd15-inpaint"));
  EXPECT_TRUE(pipe->info().inpaint_model);
  EXPECT_EQ(pipe->info().version, "v1-5-inpaint");
  const auto ref = inpaint_reference();
  GenerationResult r = pipe->generate(inpaint_request(ref), {});
  const Tensor want = ref.load("inpaint.latents", DType::F32).select(0, 3);
  EXPECT_TRUE(test::tensors_close(r.final_latents, want, 1e-4 * test::max_abs(want)));
  test::expect_image_matches(r.image, ref.view("inpaint.image_u8"));
}

TEST(Inpaint, FourChannelModelKeepsTheUnmaskedLatents) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options());
  GenerationRequest req = inpaint_request(inpaint_reference());
  GenerationResult a = pipe->generate(req, {});
  req.prompt = "a watercolour of a lighthouse";
  GenerationResult b = pipe->generate(req, {});
  // Latent mask: rows 8..23, cols 10..25 of 32x32 (pixel rows 16..47, cols 20..51).
  const Tensor la = a.final_latents.contiguous(), lb = b.final_latents.contiguous();
  const float *pa = la.data<float>(), *pb = lb.data<float>();
  int inside_differs = 0;
  for (int c = 0; c < 4; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        const int i = (c * 32 + y) * 32 + x;
        const bool masked = y >= 8 && y < 24 && x >= 10 && x < 26;
        if (masked) inside_differs += pa[i] != pb[i];
        else ASSERT_EQ(pa[i], pb[i]) << "unmasked latent changed with the prompt at c" << c << " y" << y << " x" << x;
      }
  EXPECT_GT(inside_differs, 100);
}

TEST(Img2Img, RejectsMissingInputs) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options());
  GenerationRequest req = test::tiny_ddim_request(1);
  req.operation = Operation::Img2Img;
  EXPECT_THROW(pipe->generate(req, {}), Error);
  req.init_image = io::Image{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3, 128)};
  req.strength = 0.0f;
  EXPECT_THROW(pipe->generate(req, {}), Error);
  req.operation = Operation::Inpaint;
  req.strength = 1.0f;
  EXPECT_THROW(pipe->generate(req, {}), Error);  // no mask
}

}  // namespace
}  // namespace sd::pipeline
