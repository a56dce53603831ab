// The pipeline under inputs built to hurt it: weight files changed after loading, input
// images far from the generation size, jobs measured against a memory budget.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "pipeline/image_inputs.h"
#include "pipeline/memory_admission.h"
#include "pipeline/request_limits.h"
#include "support/tiny_pipeline.h"

namespace sd::test {
namespace {

namespace fs = std::filesystem;

// Weights are the process's own once loaded: cutting every weight file of the model to
// nothing under a loaded pipeline (a mapped file would raise SIGBUS on the next access)
// leaves the next job's image exactly what it was.
TEST(PipelineHostile, WeightFilesTruncatedAfterLoadingChangeNothing) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string copy = temp_dir("truncated-model") + "/tiny-sd15";
  fs::copy(fixtures_dir() + "/tiny-sd15", copy, fs::copy_options::recursive);
  auto opt = tiny_load_options();
  opt.model_path = copy;
  opt.threads = 1;
  auto pipe = pipeline::Pipeline::load(opt);
  auto req = tiny_ddim_request();
  req.steps = 2;
  req.keep_latents = false;
  const io::Image before = pipe->generate(req, {}).image;
  int cut = 0;
  for (const auto& e : fs::recursive_directory_iterator(copy))
    if (e.path().extension() == ".safetensors") {
      fs::resize_file(e.path(), 0);
      ++cut;
    }
  ASSERT_GE(cut, 3);
  const io::Image after = pipe->generate(req, {}).image;
  EXPECT_EQ(after.pixels, before.pixels);
}

// Lanczos as a full intermediate image computes it (PIL's two passes), for comparison
// with the streamed resize.
io::Image two_pass_lanczos(const io::Image& img, int width, int height) {
  auto taps = [](int in, int out, int o, std::vector<double>& w) {
    const double scale = double(in) / out, support = 3.0 * std::max(scale, 1.0), fs = std::max(scale, 1.0);
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, int(std::floor(center - support))), hi = std::min(in, int(std::ceil(center + support)));
    w.clear();
    double sum = 0;
    for (int i = lo; i < hi; ++i) {
      const double x = std::fabs((i + 0.5 - center) / fs);
      const double v = x < 1e-12 ? 1.0 : x >= 3.0 ? 0.0 : 3.0 * std::sin(M_PI * x) * std::sin(M_PI * x / 3.0) / (M_PI * M_PI * x * x);
      w.push_back(v);
      sum += v;
    }
    for (double& v : w) v /= sum;
    return lo;
  };
  const int C = img.channels;
  std::vector<float> mid(size_t(width) * img.height * C);
  std::vector<double> w;
  for (int x = 0; x < width; ++x) {
    const int lo = taps(img.width, width, x, w);
    for (int y = 0; y < img.height; ++y)
      for (int c = 0; c < C; ++c) {
        double a = 0;
        for (size_t k = 0; k < w.size(); ++k) a += w[k] * img.at(lo + int(k), y, c);
        mid[(size_t(y) * width + x) * C + c] = float(a);
      }
  }
  io::Image out{width, height, C, std::vector<uint8_t>(size_t(width) * height * C)};
  for (int y = 0; y < height; ++y) {
    const int lo = taps(img.height, height, y, w);
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < C; ++c) {
        double a = 0;
        for (size_t k = 0; k < w.size(); ++k) a += w[k] * mid[(size_t(lo + int(k)) * width + x) * C + c];
        out.at(x, y, c) = uint8_t(std::clamp(std::lround(a), 0L, 255L));
      }
  }
  return out;
}

TEST(PipelineHostile, StreamedResizeIsTheTwoPassLanczos) {
  for (auto [w, h, ow, oh] : std::vector<std::array<int, 4>>{
           {2, 3000, 64, 96}, {3000, 2, 96, 64}, {37, 53, 64, 64}, {200, 120, 64, 72}, {64, 64, 200, 136}, {9, 7, 64, 64}}) {
    io::Image img{w, h, 3, std::vector<uint8_t>(size_t(w) * h * 3)};
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t((i * 2654435761u) >> 13);
    EXPECT_EQ(pipeline::resize_lanczos(img, ow, oh).pixels, two_pass_lanczos(img, ow, oh).pixels)
        << w << "x" << h << " -> " << ow << "x" << oh;
  }
}

// A few kilobytes of PNG claiming 2 x 2,000,000 pixels is refused from its header.
TEST(PipelineHostile, InputImagesAreCheckedByTheirHeaderFirst) {
  io::Image thin{2, 2, 3, std::vector<uint8_t>(12, 7)};
  std::vector<uint8_t> png = io::encode_png(thin);
  png[20] = 0x00, png[21] = 0x1E, png[22] = 0x84, png[23] = 0x80;  // IHDR height: 2,000,000
  const std::string e = error_of([&] { pipeline::decode_input_image("input_image", png, 3); });
  EXPECT_EQ(e, "input_image is 2x2000000; its sides must be at most 8192 pixels");
  EXPECT_NE(error_of([&] { pipeline::check_input_image_size("x", 8192, 8192); }).find("over the limit"), std::string::npos);
  EXPECT_NE(error_of([&] { pipeline::check_input_image_size("x", 64, 2049 * 2); }).find("aspect ratio"), std::string::npos);
  EXPECT_NO_THROW(pipeline::check_input_image_size("x", 64, 2048));
  EXPECT_EQ(pipeline::decode_input_image("x", io::encode_png(thin), 3).pixels, thin.pixels);
}

TEST(PipelineHostile, PromptsWithControlCharactersAreRefused) {
  EXPECT_NO_THROW(pipeline::check_prompt("prompt", "a fox,\tin the snow\r\n(best:1.2) \xc3\xa9\xe2\x82\xac"));
  EXPECT_EQ(error_of([&] { pipeline::check_prompt("prompt", std::string("a\0b", 3)); }),
            "prompt must not contain control characters; found U+0000 at byte 1");
  EXPECT_NE(error_of([&] { pipeline::check_prompt("p", "\x7f"); }).find("U+007F"), std::string::npos);
  EXPECT_NE(error_of([&] { pipeline::check_prompt("p", std::string(10001, 'a')); }).find("at most 10000 bytes"),
            std::string::npos);
}

// The estimate grows with the size and the batch, tiling bounds the VAE's part, and
// admission either fits a job, tiles its VAE, or refuses it naming both numbers.
TEST(PipelineHostile, MemoryAdmission) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = pipeline::Pipeline::load(tiny_load_options());
  const pipeline::ModelInfo& info = pipe->info();
  ASSERT_GT(info.memory.resident_bytes, 0u);
  auto req = tiny_ddim_request();
  req.width = req.height = 1024;
  const auto big = pipeline::estimate_job_memory(info, req);
  req.width = req.height = 512;
  const auto small = pipeline::estimate_job_memory(info, req);
  EXPECT_EQ(big.resident, small.resident);
  EXPECT_GT(big.activations, 3 * small.activations);
  // With the VAE in tiles the UNet's part is the larger; CFG doubles its rows.
  req.vae_tiling = true;
  const auto guided = pipeline::estimate_job_memory(info, req);
  req.guidance_scale = 1.0f;
  EXPECT_LT(pipeline::estimate_job_memory(info, req).activations, guided.activations);
  req.vae_tiling = false;
  // Without CFG the tiny model's VAE outweighs its UNet (its VAE upsamples only 2x).
  req.width = req.height = 2048;
  const auto untiled = pipeline::estimate_job_memory(info, req);
  req.vae_tiling = true;
  const auto tiled = pipeline::estimate_job_memory(info, req);
  EXPECT_LT(tiled.activations, untiled.activations);

  req.vae_tiling = false;
  auto fits = req;
  pipeline::admit_job_memory(fits, info, untiled.total());
  EXPECT_FALSE(fits.vae_tiling);
  auto tiles = req;
  pipeline::admit_job_memory(tiles, info, tiled.total());
  EXPECT_TRUE(tiles.vae_tiling);
  EXPECT_EQ(tiles.vae_tile_size, 0);  // the VAE's own tile edge was enough
  // Smaller tiles would not help here (the UNet's part is then the larger): the refusal
  // names the default tiles as the least.
  auto refused = req;
  const std::string e = error_of([&] { pipeline::admit_job_memory(refused, info, tiled.total() - 1); });
  EXPECT_NE(e.find("a 2048x2048 job needs about"), std::string::npos) << e;
  EXPECT_NE(e.find("with the VAE in tiles;"), std::string::npos) << e;
  EXPECT_NE(e.find("is available to the worker"), std::string::npos) << e;
  // Refused, the request is left in its leanest form (sd-generate runs it so anyway).
  EXPECT_TRUE(refused.vae_tiling);
  EXPECT_EQ(refused.vae_tile_size, 0);
  EXPECT_GT(pipeline::memory_available_to_process(0), info.memory.resident_bytes);
  EXPECT_EQ(pipeline::memory_available_to_process(12345), 12345u);
}

// When the VAE's default tile is the whole image (SDXL's 1024 px tile at 1024x1024; the
// tiny VAE's 64 px one at 64x64), tiling with it saves nothing: admission halves the
// tile until the decode fits, and the job runs with that tile.
TEST(PipelineHostile, MemoryAdmissionChoosesSmallerTiles) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = pipeline::Pipeline::load(tiny_load_options());
  const pipeline::ModelInfo& info = pipe->info();
  ASSERT_EQ(info.memory.vae_tile_pixels, 64);
  auto req = tiny_ddim_request();
  req.guidance_scale = 1.0f;  // the VAE's part outweighs the UNet's
  const auto whole = pipeline::estimate_job_memory(info, req);
  req.vae_tiling = true;
  EXPECT_GE(pipeline::estimate_job_memory(info, req).activations, whole.activations);  // one tile: the whole
  req.vae_tile_size = 32;
  const auto half = pipeline::estimate_job_memory(info, req);
  EXPECT_LT(half.activations, whole.activations);
  req.vae_tiling = false;
  req.vae_tile_size = 0;

  auto admitted = req;
  pipeline::admit_job_memory(admitted, info, half.total());
  EXPECT_TRUE(admitted.vae_tiling);
  EXPECT_EQ(admitted.vae_tile_size, 32);
  // A tile edge the request names is kept: it is refused rather than cut.
  auto named = req;
  named.vae_tiling = true;
  named.vae_tile_size = 64;
  EXPECT_THROW(pipeline::admit_job_memory(named, info, half.total()), pipeline::MemoryRefused);

  const auto tiled = pipe->generate(admitted, {});
  const auto untiled = pipe->generate(req, {});
  ASSERT_EQ(tiled.image.width, 64);
  ASSERT_EQ(tiled.image.height, 64);
  // The same latents decoded in four overlapping tiles: close to the whole decode, not equal.
  ASSERT_EQ(max_abs_diff(tiled.final_latents, untiled.final_latents), 0.0);
  EXPECT_NE(tiled.image.pixels, untiled.image.pixels);
}

// The estimate against what sd-bench --e2e and sd-generate measured at full size (random
// weights of the real configs, 2 steps): it must cover each peak, or a job admitted within
// a budget would pass it. SD2.1 768x768 f32: 4980 MiB after the load, 9040 MiB at the VAE
// decode; SDXL 1024x1024 bf16: 6696 MiB after the load, 7829 MiB at the whole decode and
// 7134 MiB with 512 px tiles; in f32, 13309 MiB after the load and 15238 MiB at the decode
// in 512 px tiles.
TEST(PipelineHostile, MemoryEstimateCoversTheMeasuredPeaks) {
  const uint64_t MiB = uint64_t(1) << 20;
  pipeline::ModelInfo sd21, sdxl;
  sd21.memory = {4980 * MiB, 4, 8, 320, 320 + 3 * 320 + 3 * 640 / 4 + 3 * 1280 / 16 + 3 * 1280 / 64, 128, 256, 768};
  sdxl.memory = {6696 * MiB, 2, 8, 320, 320 + 3 * 320 + 3 * 640 / 4 + 3 * 1280 / 16, 128, 256, 1024};
  pipeline::GenerationRequest req;
  req.guidance_scale = 7.5f;
  req.width = req.height = 768;
  EXPECT_GE(pipeline::estimate_job_memory(sd21, req).total(), 9040 * MiB);
  req.width = req.height = 1024;
  EXPECT_GE(pipeline::estimate_job_memory(sdxl, req).total(), 7829 * MiB);
  req.vae_tiling = true;
  req.vae_tile_size = 512;
  EXPECT_GE(pipeline::estimate_job_memory(sdxl, req).total(), 7134 * MiB);
  pipeline::ModelInfo sdxl_f32 = sdxl;
  sdxl_f32.memory.resident_bytes = 13309 * MiB;
  sdxl_f32.memory.activation_bytes = 4;
  EXPECT_GE(pipeline::estimate_job_memory(sdxl_f32, req).total(), 15238 * MiB);
  // In 6 GiB the SDXL job fits in no way (its bf16 weights alone are 6.5 GiB); its leanest
  // form tiles the VAE at 512 px, where the UNet's step becomes the larger part.
  req.vae_tiling = false;
  req.vae_tile_size = 0;
  const std::string e = error_of([&] { pipeline::admit_job_memory(req, sdxl, 6144 * MiB); });
  EXPECT_NE(e.find("with the VAE in 512 px tiles; 6144 MiB is available"), std::string::npos) << e;
  EXPECT_EQ(req.vae_tile_size, 512);
  // On a GPU the tiles (blended on the host) are not offered.
  pipeline::ModelInfo gpu = sdxl;
  gpu.device = "cuda:0";
  auto on_gpu = req;
  on_gpu.vae_tiling = false;
  on_gpu.vae_tile_size = 0;
  const std::string g = error_of([&] { pipeline::admit_job_memory(on_gpu, gpu, 6144 * MiB); });
  EXPECT_EQ(g.find("tiles"), std::string::npos) << g;
  EXPECT_FALSE(on_gpu.vae_tiling);
}

}  // namespace
}  // namespace sd::test
