// Batches through the tiny fixture models: a batch of n gives, image for image, what n
// jobs of one image with seeds seed, seed+1, ... give (the same latents and the same 8-bit
// image), for every operation, samplers that draw noise at each step, and each memory
// layout; limits and cancellation.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "pipeline/memory_admission.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

constexpr uint64_t kSeed = 1000;

// One thread: the tests compare results, and on the shared 2-core machine one thread per
// process is the fastest.
std::unique_ptr<Pipeline> load_tiny(const std::string& model = "tiny-sd15", DType dtype = DType::F32) {
  LoadOptions opt = test::tiny_load_options(model);
  opt.threads = 1;
  opt.dtype = dtype;
  return Pipeline::load(opt);
}

io::Image image_from(const Tensor& u8 /* [1,H,W,C] or [1,H,W] */) {
  io::Image img;
  img.height = int(u8.size(1));
  img.width = int(u8.size(2));
  img.channels = u8.ndim() == 4 ? int(u8.size(3)) : 1;
  const uint8_t* p = u8.data<uint8_t>();
  img.pixels.assign(p, p + u8.numel());
  return img;
}

// The fixtures' reference inputs of img2img and inpainting.
void add_input_images(GenerationRequest& req, Operation op) {
  const auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15-inpaint/reference.safetensors");
  req.operation = op;
  req.strength = op == Operation::Img2Img ? 0.75 : 1.0;
  req.init_image = image_from(ref.view("inpaint.input_image_u8"));
  if (op == Operation::Inpaint) req.mask_image = image_from(ref.view("inpaint.input_mask_u8"));
}

// Runs `req` as one batch of `n` and as n single jobs, and expects each batch image to be
// the single job's: latents and pixels equal, same seed, same parameters. Three steps: a
// second step uses multistep history, every step draws noise for ancestral samplers.
void expect_batch_equals_singles(Pipeline& pipe, GenerationRequest req, int n) {
  req.seed = kSeed;
  req.steps = 3;
  req.batch_size = n;
  std::vector<int> indices;
  GenerationCallbacks cb;
  cb.on_image = [&](int index, const GenerationResult& r) {
    EXPECT_EQ(r.index, index);
    indices.push_back(index);
  };
  const std::vector<GenerationResult> batch = pipe.generate_batch(req, cb);
  ASSERT_EQ(batch.size(), size_t(n));
  std::vector<int> in_order;
  for (int k = 0; k < n; ++k) in_order.push_back(k);
  EXPECT_EQ(indices, in_order);
  for (int k = 0; k < n; ++k) {
    GenerationRequest one = req;
    one.batch_size = 1;
    one.seed = kSeed + uint64_t(k);
    const GenerationResult single = pipe.generate(one, {});
    const GenerationResult& b = batch[size_t(k)];
    SCOPED_TRACE("image " + std::to_string(k));
    EXPECT_EQ(b.seed, one.seed);
    EXPECT_EQ(test::max_abs_diff(b.final_latents, single.final_latents), 0.0);
    EXPECT_EQ(b.image.pixels, single.image.pixels);
    EXPECT_EQ(b.parameters, single.parameters);
  }
  // Different seeds, different images.
  EXPECT_GT(test::max_abs_diff(batch[0].final_latents, batch[1].final_latents), 0.01);
}

struct SamplerCase {
  const char* model;
  const char* sampler;
  float guidance;
  int images;
  DType dtype = DType::F32;
};

class BatchEqualsSingles : public ::testing::TestWithParam<SamplerCase> {};

TEST_P(BatchEqualsSingles, Txt2Img) {
  SD_SKIP_WITHOUT_DATA("clip");
  const SamplerCase c = GetParam();
  auto pipe = load_tiny(c.model, c.dtype);
  GenerationRequest req = test::tiny_ddim_request();
  req.sampler = parse_sampler(c.sampler)->sampler;
  req.guidance_scale = c.guidance;
  expect_batch_equals_singles(*pipe, req, c.images);
}

// DDIM with the batch of 4; samplers that draw noise at every step from each
// image's own generator (ancestral; SDE, also multistep with per-image history); no CFG
// (LCM); SDXL's added conditioning; bf16 (equal too: the kernels compute each batch row
// alone, in the same order).
INSTANTIATE_TEST_SUITE_P(Tiny, BatchEqualsSingles,
                         ::testing::Values(SamplerCase{"tiny-sd15", "ddim", 7.5f, 4},
                                           SamplerCase{"tiny-sd15", "euler_a", 7.5f, 2},
                                           SamplerCase{"tiny-sd15", "dpmpp_2m_sde", 7.5f, 2},
                                           SamplerCase{"tiny-sd15", "lcm", 1.0f, 2},
                                           SamplerCase{"tiny-sdxl", "euler_a", 5.0f, 2},
                                           SamplerCase{"tiny-sd15", "euler_a", 7.5f, 3, DType::BF16}),
                         [](const auto& info) {
                           std::string n = std::string(info.param.model) + "_" + info.param.sampler +
                                           (info.param.dtype == DType::BF16 ? "_bf16" : "");
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(Batch, Img2ImgEqualsSingles) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny();
  GenerationRequest req = test::tiny_ddim_request();
  req.sampler = Sampler::EulerA;
  add_input_images(req, Operation::Img2Img);
  expect_batch_equals_singles(*pipe, req, 2);
}

TEST(Batch, InpaintEqualsSinglesWithAFourChannelModel) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny();
  GenerationRequest req = test::tiny_ddim_request();
  add_input_images(req, Operation::Inpaint);
  req.strength = 0.75;
  expect_batch_equals_singles(*pipe, req, 2);
}

TEST(Batch, InpaintEqualsSinglesWithANineChannelModel) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny("tiny-sd15-inpaint");
  GenerationRequest req = test::tiny_ddim_request();
  add_input_images(req, Operation::Inpaint);
  expect_batch_equals_singles(*pipe, req, 2);
}

// Whatever layout memory admission picks, the images are the same; progress counts the
// batch's steps, or every image's when they run one by one.
TEST(Batch, EveryLayoutGivesTheSameImages) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny();
  GenerationRequest req = test::tiny_ddim_request(kSeed);
  req.sampler = Sampler::EulerA;
  req.steps = 2;
  req.batch_size = 2;
  std::vector<std::vector<uint8_t>> first;
  for (BatchLayout layout : {BatchLayout::Together, BatchLayout::VaeOneByOne, BatchLayout::OneByOne}) {
    req.batch_layout = layout;
    std::vector<std::pair<int, int>> progress;
    GenerationCallbacks cb;
    cb.on_progress = [&](int step, int total) { progress.push_back({step, total}); };
    const auto images = pipe->generate_batch(req, cb);
    const int total = layout == BatchLayout::OneByOne ? 4 : 2;
    ASSERT_EQ(progress.size(), size_t(total));
    for (int s = 0; s < total; ++s) EXPECT_EQ(progress[size_t(s)], std::make_pair(s + 1, total));
    std::vector<std::vector<uint8_t>> pixels;
    for (const auto& r : images) pixels.push_back(r.image.pixels);
    if (first.empty()) first = pixels;
    EXPECT_EQ(pixels, first);
  }
}

TEST(Batch, SizesOutsideOneToEightAreRefused) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny();
  GenerationRequest req = test::tiny_ddim_request();
  EXPECT_EQ(pipe->info().limits.max_images, 8);
  for (int n : {0, -1, 9}) {
    req.batch_size = n;
    EXPECT_EQ(test::error_of([&] { pipe->validate(req); }),
              "num_images must be between 1 and 8, got " + std::to_string(n));
    EXPECT_THROW(pipe->generate_batch(req, {}), Error);
  }
  req.batch_size = 2;
  EXPECT_NE(test::error_of([&] { pipe->generate(req, {}); }).find("needs generate_batch()"), std::string::npos);
}

TEST(Batch, CancelMidBatchStopsBeforeTheNextStep) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny();
  GenerationRequest req = test::tiny_ddim_request();
  req.steps = 2;
  req.batch_size = 4;
  req.batch_layout = BatchLayout::OneByOne;
  int images = 0, steps = 0;
  GenerationCallbacks cb;
  cb.on_progress = [&](int, int) { ++steps; };
  cb.on_image = [&](int, const GenerationResult&) { ++images; };
  cb.should_cancel = [&] { return images == 2; };
  EXPECT_THROW(pipe->generate_batch(req, cb), Cancelled);
  EXPECT_EQ(images, 2);
  EXPECT_EQ(steps, 4);
}

// A batch's estimate counts its images; admission runs it image by image (VAE first)
// before tiling the VAE, and refuses it only when nothing fits.
TEST(Batch, MemoryAdmissionCountsTheBatch) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = load_tiny();
  const ModelInfo& info = pipe->info();
  GenerationRequest req = test::tiny_ddim_request();
  req.width = req.height = 1024;
  const uint64_t one = estimate_job_memory(info, req).activations;
  req.batch_size = 4;
  const uint64_t together = estimate_job_memory(info, req).activations;
  EXPECT_GT(together, 3 * one);
  req.batch_layout = BatchLayout::VaeOneByOne;
  const uint64_t unet_only = estimate_job_memory(info, req).activations;
  req.batch_layout = BatchLayout::OneByOne;
  const uint64_t by_image = estimate_job_memory(info, req).activations;
  EXPECT_LT(unet_only, together);
  EXPECT_LE(by_image, unet_only);
  EXPECT_LT(by_image, 2 * one);
  const uint64_t resident = info.memory.resident_bytes;

  req.batch_layout = BatchLayout::Together;
  auto fits = req;
  admit_job_memory(fits, info, resident + together);
  EXPECT_EQ(fits.batch_layout, BatchLayout::Together);
  auto by_vae = req;
  admit_job_memory(by_vae, info, resident + unet_only);
  EXPECT_EQ(by_vae.batch_layout, BatchLayout::VaeOneByOne);
  EXPECT_FALSE(by_vae.vae_tiling);
  auto single = req;
  admit_job_memory(single, info, resident + by_image);
  EXPECT_EQ(single.batch_layout, BatchLayout::OneByOne);
  EXPECT_FALSE(single.vae_tiling);
  auto refused = req;
  const std::string e = test::error_of([&] { admit_job_memory(refused, info, resident); });
  EXPECT_NE(e.find("a batch of 4 1024x1024 images needs about"), std::string::npos) << e;
  // The least is every image alone and the VAE in tiles, and the request is left so.
  EXPECT_NE(e.find("one image at a time and the VAE in tiles;"), std::string::npos) << e;
  EXPECT_EQ(refused.batch_layout, BatchLayout::OneByOne);
  EXPECT_TRUE(refused.vae_tiling);
}

}  // namespace
}  // namespace sd::pipeline
