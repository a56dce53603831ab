// A1111's "only masked" inpainting (inpaint_full_res): the box around the mask, its
// widening to the generation's shape, the paste back, and whole jobs on the tiny model.
#include <gtest/gtest.h>

#include "pipeline/inpaint_area.h"
#include "pipeline/inpaint_plan.h"
#include "pipeline/masked_content.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

io::Image grey(int w, int h, uint8_t v = 0) { return io::Image{w, h, 1, std::vector<uint8_t>(size_t(w) * h, v)}; }

io::Image box_mask(int w, int h, const PixelBox& b) {
  io::Image m = grey(w, h);
  for (int y = b.y1; y < b.y2; ++y)
    for (int x = b.x1; x < b.x2; ++x) m.at(x, y, 0) = 255;
  return m;
}

void expect_box(const PixelBox& got, const PixelBox& want) {
  EXPECT_EQ(got.x1, want.x1);
  EXPECT_EQ(got.y1, want.y1);
  EXPECT_EQ(got.x2, want.x2);
  EXPECT_EQ(got.y2, want.y2);
}

TEST(InpaintArea, TheBoxAroundTheMaskWithItsPadding) {
  EXPECT_FALSE(masked_box(grey(32, 16), 8).has_value());
  io::Image m = grey(32, 16);
  m.at(10, 5, 0) = 1;  // any level counts, as A1111's "not zero"
  m.at(20, 7, 0) = 255;
  expect_box(*masked_box(m, 0), {10, 5, 21, 8});
  expect_box(*masked_box(m, 3), {7, 2, 24, 11});
  expect_box(*masked_box(m, 100), {0, 0, 32, 16});  // clipped to the image
}

TEST(InpaintArea, WidensTheShortSideToTheGenerationsShape) {
  // A1111's own example: a 128x32 box processed at 512x512 becomes 128x128 about its centre.
  expect_box(widen_to_aspect({100, 200, 228, 232}, 512, 512, 512, 512), {100, 152, 228, 280});
  // At the edge it moves back inside rather than shrink.
  expect_box(widen_to_aspect({0, 0, 128, 32}, 512, 512, 512, 512), {0, 0, 128, 128});
  expect_box(widen_to_aspect({400, 490, 500, 512}, 512, 512, 512, 512), {400, 412, 500, 512});
  // A tall box for a wide generation grows in width: 20x40 at 2:1 is 80x40.
  expect_box(widen_to_aspect({50, 10, 70, 50}, 128, 64, 200, 100), {20, 10, 100, 50});
  // Larger than the image allows: the whole side.
  expect_box(widen_to_aspect({0, 0, 64, 4}, 64, 64, 64, 16), {0, 0, 64, 16});
}

TEST(InpaintArea, PastesTheGenerationIntoTheBoxThroughTheMask) {
  io::Image original{40, 30, 3, std::vector<uint8_t>(40 * 30 * 3)};
  for (size_t i = 0; i < original.pixels.size(); ++i) original.pixels[i] = uint8_t(i % 200);
  const PixelBox box{10, 5, 30, 25};
  const io::Image mask = box_mask(40, 30, {15, 10, 25, 20});
  const io::Image generated{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3, 250)};
  const io::Image out = paste_into_box(generated, original, mask, box);
  ASSERT_EQ(out.width, 40);
  ASSERT_EQ(out.height, 30);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x)
      for (int c = 0; c < 3; ++c) {
        const bool masked = x >= 15 && x < 25 && y >= 10 && y < 20;
        ASSERT_EQ(out.at(x, y, c), masked ? 250 : original.at(x, y, c)) << x << "," << y;
      }
  const io::Image cut = crop(original, box);
  ASSERT_EQ(cut.width, 20);
  EXPECT_EQ(cut.at(0, 0, 1), original.at(10, 5, 1));
  EXPECT_EQ(cut.at(19, 19, 2), original.at(29, 24, 2));
}

TEST(InpaintPlan, WholePictureDoublesTheBlurredEdgeOnlyMaskedRunsTheBox) {
  GenerationRequest req;
  req.operation = Operation::Inpaint;
  req.width = req.height = 64;
  req.init_image = io::Image{128, 96, 3, std::vector<uint8_t>(128 * 96 * 3, 10)};
  req.mask_image = box_mask(128, 96, {40, 30, 56, 66});
  req.paste_original = true;
  req.mask_blur_x = req.mask_blur_y = 2.f;
  const InpaintPlan whole = plan_inpaint(req);
  EXPECT_FALSE(whole.box.has_value());
  ASSERT_TRUE(whole.paste.has_value());
  // The blurred mask: symmetric about the edge (between x 39 and 40), fading outside it.
  const io::Image& m = *whole.work.mask_image;
  EXPECT_NEAR(m.at(39, 48, 0) + m.at(40, 48, 0), 255, 2);
  EXPECT_GT(m.at(40, 48, 0), m.at(39, 48, 0));
  EXPECT_GT(m.at(36, 48, 0), 0);
  EXPECT_EQ(m.at(48, 10, 0), 0);
  EXPECT_EQ(m.at(48, 48, 0), 255);

  req.inpaint_only_masked = true;
  req.inpaint_padding = 4;
  const InpaintPlan only = plan_inpaint(req);
  ASSERT_TRUE(only.box.has_value());
  // The blur's tail (a few pixels) and the padding widen the 16x36 box, then it is squared.
  EXPECT_LT(only.box->y1, 26);
  EXPECT_GT(only.box->y2, 70);
  EXPECT_EQ(only.box->width(), only.box->height());
  EXPECT_EQ(only.work.init_image->width, only.box->width());
  EXPECT_EQ(only.work.mask_image->width, only.box->width());
  EXPECT_EQ(only.work.mask_blur_x, 0.f);  // blurred once, at the input's size

  req.mask_image = grey(128, 96);  // blank: img2img of the whole picture, as A1111
  const InpaintPlan blank = plan_inpaint(req);
  EXPECT_EQ(blank.work.operation, Operation::Img2Img);
  EXPECT_FALSE(blank.paste.has_value());
}

TEST(InpaintOnlyMasked, InpaintsTheBoxAtFullSizeAndKeepsTheRest) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options());
  GenerationRequest req = test::tiny_ddim_request(9);
  req.operation = Operation::Inpaint;
  req.strength = 0.8;
  req.paste_original = true;
  req.inpaint_only_masked = true;
  req.inpaint_padding = 8;
  req.init_image = io::Image{160, 96, 3, std::vector<uint8_t>(160 * 96 * 3)};
  for (size_t i = 0; i < req.init_image->pixels.size(); ++i) req.init_image->pixels[i] = uint8_t((i * 37) % 251);
  const PixelBox masked{100, 30, 124, 54};
  req.mask_image = box_mask(160, 96, masked);
  const GenerationResult only = pipe->generate(req, {});
  ASSERT_EQ(only.image.width, 160);  // the input's size, not the generation's 64x64
  ASSERT_EQ(only.image.height, 96);
  // The box: 24x24 plus 8 on each side, 40x40 from (92, 22). Outside it, the input.
  int inside_changed = 0;
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 160; ++x) {
      const bool in_box = x >= 92 && x < 132 && y >= 22 && y < 62;
      const bool in_mask = x >= masked.x1 && x < masked.x2 && y >= masked.y1 && y < masked.y2;
      for (int c = 0; c < 3; ++c) {
        if (!in_box) {
          ASSERT_EQ(only.image.at(x, y, c), req.init_image->at(x, y, c)) << x << "," << y;
        }
        if (in_mask) inside_changed += only.image.at(x, y, c) != req.init_image->at(x, y, c);
      }
    }
  EXPECT_GT(inside_changed, 24 * 24 * 3 / 2);
  EXPECT_NE(only.parameters.find("Inpaint area: Only masked, Masked area padding: 8"), std::string::npos)
      << only.parameters;
  // A blank mask: img2img of the whole picture, which the parameters say as A1111's do.
  GenerationRequest blank = req;
  blank.mask_image = box_mask(160, 96, {0, 0, 0, 0});
  blank.masked_content = MaskedContent::LatentNothing;
  const std::string blank_parameters = pipe->generate(blank, {}).parameters;
  EXPECT_EQ(blank_parameters.find("Inpaint area"), std::string::npos) << blank_parameters;
  EXPECT_EQ(blank_parameters.find("Masked content"), std::string::npos) << blank_parameters;
  // The box's own job, run by hand: the same pixels under the mask.
  GenerationRequest box_job = req;
  box_job.inpaint_only_masked = false;
  box_job.paste_original = false;
  box_job.init_image = crop(*req.init_image, {92, 22, 132, 62});
  box_job.mask_image = crop(*req.mask_image, {92, 22, 132, 62});
  const io::Image by_hand = paste_into_box(pipe->generate(box_job, {}).image, *req.init_image, *req.mask_image,
                                           {92, 22, 132, 62});
  EXPECT_EQ(by_hand.pixels, only.image.pixels);
}

}  // namespace
}  // namespace sd::pipeline
