// sd-generate as a user runs it: real files in, a real PNG out, and one clear line with
// exit code 2 for every mistake on the command line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <fstream>

#include "apps/usage_error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "pipeline/sampler_names.h"
#include "sampling/scheduler_factory.h"
#include "support/process.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd {
namespace {

namespace fs = std::filesystem;

std::string sd_generate() { return test::bin_dir() + "/sd-generate"; }

std::vector<std::string> tiny_args(const std::string& sampler, const std::string& output) {
  return {sd_generate(),  "--model-path", test::fixtures_dir() + "/tiny-sd15",
          "--tokenizer-dir", test::data_dir() + "/clip",
          "--prompt",     "a photo of a cat", "--steps", "4", "--guidance", "7.5", "--seed", "42",
          "--width",      "64", "--height", "64", "--sampler", sampler, "--dtype", "f32",
          "--output",     output};
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The fixtures' pipeline tolerance, as the in-process tests apply it: the same size, every
// value within 1 LSB of diffusers' 8-bit image, at most 1 % of them off by that LSB.
::testing::AssertionResult image_matches(const io::Image& got, const io::Image& want) {
  if (got.width != want.width || got.height != want.height || got.channels != want.channels ||
      got.pixels.size() != want.pixels.size())
    return ::testing::AssertionFailure() << "image " << got.width << "x" << got.height << "x" << got.channels
                                         << " against " << want.width << "x" << want.height << "x" << want.channels;
  size_t differ = 0;
  int worst = 0;
  for (size_t i = 0; i < got.pixels.size(); ++i) {
    const int d = std::abs(int(got.pixels[i]) - int(want.pixels[i]));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  if (worst <= 1 && double(differ) <= 0.01 * double(got.pixels.size())) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "worst difference " << worst << " levels, " << differ << " of "
                                       << got.pixels.size() << " values differ";
}

// A [1,H,W,C] uint8 reference tensor as an image.
io::Image image_of(const Tensor& u8) {
  io::Image img;
  img.height = int(u8.size(1));
  img.width = int(u8.size(2));
  img.channels = int(u8.size(3));
  img.pixels.assign(u8.data<uint8_t>(), u8.data<uint8_t>() + u8.numel());
  return img;
}

::testing::AssertionResult image_matches(const io::Image& got, const Tensor& want_u8) {
  return image_matches(got, image_of(want_u8));
}

class SdGenerateImage : public ::testing::TestWithParam<const char*> {};

TEST_P(SdGenerateImage, WritesTheReferenceImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string sampler = GetParam();
  const std::string dir = test::temp_dir("sdgen");
  const std::string png = dir + "/x.png", lat = dir + "/x.safetensors";
  auto args = tiny_args(sampler, png);
  args.insert(args.end(), {"--save-latents", lat});
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto bytes = read_file(png);
  io::Image img = io::decode_image(bytes.data(), bytes.size());
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  EXPECT_TRUE(image_matches(img, ref.view("t2i." + sampler + ".image_u8")));

  bool found = false;
  for (auto& [k, v] : io::read_png_text(bytes.data(), bytes.size()))
    if (k == "parameters") {
      found = true;
      EXPECT_NE(v.find("a photo of a cat"), std::string::npos) << v;
      const std::string shown = pipeline::sampler_display_name(pipeline::parse_sampler(sampler)->sampler);
      EXPECT_NE(v.find("Steps: 4, Sampler: " + shown + ", CFG scale"), std::string::npos) << v;
      EXPECT_NE(v.find("Seed: 42"), std::string::npos) << v;
      EXPECT_NE(v.find("RNG: CPU"), std::string::npos) << v;
    }
  EXPECT_TRUE(found) << "no parameters text chunk";

  // --save-latents: the context rows (uncond, cond) and diffusers' output_type="latent".
  auto saved = io::SafetensorsFile::open(lat);
  const Tensor ref_latents = ref.load("t2i." + sampler + ".latents", DType::F32).select(0, 3);
  EXPECT_TRUE(test::tensors_close(saved.load("latents", DType::F32), ref_latents, 1e-4 * test::max_abs(ref_latents)));
  const Tensor ref_context = ref.load("te.last_hidden_state", DType::F32);
  EXPECT_TRUE(test::tensors_close(saved.load("text_embeddings", DType::F32), ref_context,
                                  1e-4 * std::max(1.0, test::max_abs(ref_context))));
}

INSTANTIATE_TEST_SUITE_P(Samplers, SdGenerateImage, ::testing::Values("ddim", "euler"));

// Writes a [1,H,W,C] or [1,H,W] uint8 reference tensor as a PNG.
std::string write_png(const Tensor& u8, const std::string& path) {
  io::Image img;
  img.height = int(u8.size(1));
  img.width = int(u8.size(2));
  img.channels = u8.ndim() == 4 ? int(u8.size(3)) : 1;
  img.pixels.assign(u8.data<uint8_t>(), u8.data<uint8_t>() + u8.numel());
  io::write_png_file(path, img);
  return path;
}

io::Image read_png(const std::string& path) {
  auto bytes = read_file(path);
  return io::decode_image(bytes.data(), bytes.size());
}

// The largest per-value difference between two images of the same size.
int worst_pixel_difference(const io::Image& got, const io::Image& want) {
  EXPECT_EQ(got.pixels.size(), want.pixels.size());
  int worst = 0;
  for (size_t i = 0; i < got.pixels.size() && i < want.pixels.size(); ++i)
    worst = std::max(worst, std::abs(int(got.pixels[i]) - int(want.pixels[i])));
  return worst;
}

TEST(SdGenerate, Img2ImgWritesTheReferenceImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-i2i");
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  auto args = tiny_args("ddim", dir + "/x.png");
  *(std::find(args.begin(), args.end(), "--seed") + 1) = "43";
  args.insert(args.end(), {"--init-image", write_png(ref.view("i2i.input_image_u8"), dir + "/in.png"),
                           "--strength", "0.5"});
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(image_matches(read_png(dir + "/x.png"), ref.view("i2i.image_u8")));
}

TEST(SdGenerate, InpaintWritesTheReferenceImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-inpaint");
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15-inpaint/reference.safetensors");
  auto args = tiny_args("ddim", dir + "/x.png");
  *(std::find(args.begin(), args.end(), "--seed") + 1) = "44";
  *(std::find(args.begin(), args.end(), "--model-path") + 1) = test::fixtures_dir() + "/tiny-sd15-inpaint";
  args.insert(args.end(), {"--init-image", write_png(ref.view("inpaint.input_image_u8"), dir + "/in.png"),
                           "--mask-image", write_png(ref.view("inpaint.input_mask_u8"), dir + "/mask.png")});
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(image_matches(read_png(dir + "/x.png"), ref.view("inpaint.image_u8")));
}

TEST(SdGenerate, LoraWritesTheReferenceImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-lora");
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-lora-sd15.reference.safetensors");
  auto args = tiny_args("ddim", dir + "/x.png");
  args.insert(args.end(), {"--lora", test::fixtures_dir() + "/tiny-lora-sd15.safetensors:0.8"});
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(image_matches(read_png(dir + "/x.png"), ref.view("t2i.ddim.image_u8")));
}

// Every sampler the engine lists runs from the command line and gives its own image.
TEST(SdGenerate, VaeTilingRunsTheVaeInBlendedTiles) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-tiles");
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  auto args = tiny_args("ddim", dir + "/x.png");
  args.insert(args.end(), {"--vae-tiling", "--vae-tile-size", "32"});  // 3x3 tiles of the 64x64 image
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Tiles normalise on their own statistics, so the image moves off the whole decode, but
  // only a little; the blends leave no hard edges.
  const int worst = worst_pixel_difference(read_png(dir + "/x.png"), image_of(ref.view("t2i.ddim.image_u8")));
  EXPECT_GT(worst, 0);
  EXPECT_LT(worst, 64);

  auto bad = tiny_args("ddim", dir + "/y.png");
  bad.insert(bad.end(), {"--vae-tiling", "--vae-tile-size", "30"});
  // img2img: the input image is encoded in tiles as well, and the image is the one the
  // pipeline makes with tiling on (whose tiled encode and decode match diffusers':
  // tests/models/autoencoder_kl_tiled_test.cpp), not the untiled reference.
  auto i2i = tiny_args("ddim", dir + "/i2i.png");
  *(std::find(i2i.begin(), i2i.end(), "--seed") + 1) = "43";
  i2i.insert(i2i.end(), {"--init-image", write_png(ref.view("i2i.input_image_u8"), dir + "/in.png"), "--strength",
                         "0.5", "--vae-tiling", "--vae-tile-size", "32"});
  r = test::run_process(i2i);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const io::Image tiled_i2i = read_png(dir + "/i2i.png");
  EXPECT_GT(worst_pixel_difference(tiled_i2i, image_of(ref.view("i2i.image_u8"))), 0);
  auto pipe = pipeline::Pipeline::load(test::tiny_load_options());
  pipeline::GenerationRequest req = test::tiny_ddim_request(43);
  req.operation = pipeline::Operation::Img2Img;
  req.init_image = image_of(ref.view("i2i.input_image_u8"));
  req.strength = 0.5;
  req.vae_tiling = true;
  req.vae_tile_size = 32;
  EXPECT_TRUE(image_matches(tiled_i2i, pipe->generate(req, {}).image));

  // Refused once the model is loaded (the rule depends on its VAE), before any step runs.
  r = test::run_process(bad);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("sd-generate: --vae-tile-size does not fit this VAE: VAE tile size 30 must be a multiple of 8"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/y.png"));
}

// --max-memory admits the job as the worker does; one that fits in no way still runs,
// with a warning, in its leanest form, its text encoders streaming their layers (which
// changes nothing in the image). Without guidance the tiny VAE's decode outweighs
// its UNet, so that form tiles the VAE: in 32 px tiles (16 px ones would save no more,
// the UNet's part being then the larger).
TEST(SdGenerate, MaxMemoryRunsTheLeanestFormWithAWarning) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-max-memory");
  auto args = tiny_args("ddim", dir + "/x.png");
  *(std::find(args.begin(), args.end(), "--guidance") + 1) = "1";
  args.insert(args.end(), {"--max-memory", "1MiB"});
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("sd-generate: warning: a 64x64 job needs about"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("with the VAE in 32 px tiles; 1 MiB is available"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the VAE runs in 32 px tiles"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sd-generate: the text encoders read their layers from the files as they run"), std::string::npos) << r.err;
  auto pipe = pipeline::Pipeline::load(test::tiny_load_options());
  pipeline::GenerationRequest req = test::tiny_ddim_request();
  req.guidance_scale = 1.0f;
  req.vae_tiling = true;
  req.vae_tile_size = 32;
  const io::Image tiled = pipe->generate(req, {}).image;
  EXPECT_TRUE(image_matches(read_png(dir + "/x.png"), tiled));
  req.vae_tiling = false;
  EXPECT_FALSE(image_matches(tiled, pipe->generate(req, {}).image));
}

TEST(SdGenerate, EverySamplerRuns) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-samplers");
  std::map<size_t, std::string> seen;  // image hash -> sampler
  for (const std::string& sampler : sampling::sampler_names()) {
    const std::string png = dir + "/" + sampler + ".png";
    auto args = tiny_args(sampler, png);
    *(std::find(args.begin(), args.end(), "--steps") + 1) = "3";
    auto r = test::run_process(args);
    ASSERT_EQ(r.exit_code, 0) << sampler << ": " << r.err;
    auto bytes = read_file(png);
    io::Image img = io::decode_image(bytes.data(), bytes.size());
    EXPECT_EQ(img.width, 64);
    EXPECT_EQ(img.height, 64);
    const size_t hash =
        std::hash<std::string_view>{}({reinterpret_cast<const char*>(img.pixels.data()), img.pixels.size()});
    auto [it, fresh] = seen.emplace(hash, sampler);
    EXPECT_TRUE(fresh) << sampler << " gave the same image as " << it->second;
  }
}

// --rng gpu: A1111's GPU seeds. The same image as the pipeline makes with that noise
// source, not diffusers' torch-CPU image of the same seed, and the PNG's parameters say so.
TEST(SdGenerate, RngGpuSelectsThePhiloxNoise) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-rng");
  auto args = tiny_args("ddim", dir + "/gpu.png");
  args.insert(args.end(), {"--rng", "gpu"});
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bytes = read_file(dir + "/gpu.png");
  const io::Image gpu = io::decode_image(bytes.data(), bytes.size());
  auto pipe = pipeline::Pipeline::load(test::tiny_load_options());
  pipeline::GenerationRequest req = test::tiny_ddim_request(42);
  req.rng = pipeline::NoiseSource::Philox;
  EXPECT_TRUE(image_matches(gpu, pipe->generate(req, {}).image));
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  EXPECT_GT(worst_pixel_difference(gpu, image_of(ref.view("t2i.ddim.image_u8"))), 16);
  bool found = false;
  for (auto& [k, v] : io::read_png_text(bytes.data(), bytes.size()))
    if (k == "parameters") {
      found = true;
      EXPECT_NE(v.find("RNG: GPU"), std::string::npos) << v;
    }
  EXPECT_TRUE(found);
}

TEST(SdGenerate, WritesLatentPreviewsOnTheCadence) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-preview");
  auto args = tiny_args("euler", dir + "/x.png");
  args.insert(args.end(), {"--preview-dir", dir, "--preview-every", "3"});
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> previews;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("preview-", 0) == 0) previews.push_back(e.path().filename().string());
  std::sort(previews.begin(), previews.end());
  EXPECT_EQ(previews, (std::vector<std::string>{"preview-003.png", "preview-004.png"}));
  auto bytes = read_file(dir + "/preview-004.png");
  io::Image img = io::decode_image(bytes.data(), bytes.size());
  EXPECT_EQ(img.width, 32);  // the latent approximation, at latent size
}

struct BadCall {
  const char* name;
  std::vector<std::string> change;  // flag, value pairs replacing or adding to the good call
  const char* mentions;             // what the one error line must name
};

class SdGenerateBadFlags : public ::testing::TestWithParam<BadCall> {};

TEST_P(SdGenerateBadFlags, OneLineAndExitCode2) {
  const BadCall c = GetParam();
  const std::string dir = test::temp_dir("sdgen-bad");
  auto args = tiny_args("ddim", dir + "/x.png");
  for (size_t i = 0; i + 1 < c.change.size(); i += 2) {
    auto it = std::find(args.begin(), args.end(), c.change[i]);
    if (c.change[i] == "--drop") {  // remove a flag and its value
      auto f = std::find(args.begin(), args.end(), c.change[i + 1]);
      args.erase(f, f + 2);
    } else if (it != args.end()) {
      *(it + 1) = c.change[i + 1];
    } else {
      args.push_back(c.change[i]);
      args.push_back(c.change[i + 1]);
    }
  }
  auto r = test::run_process(args);
  test::expect_usage_error(r, c.mentions, dir + "/x.png");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SdGenerateBadFlags,
    ::testing::Values(BadCall{"no_prompt", {"--drop", "--prompt"}, "--prompt"},
                      BadCall{"no_output", {"--drop", "--output"}, "--output"},
                      BadCall{"steps_zero", {"--steps", "0"}, "--steps"},
                      BadCall{"steps_text", {"--steps", "many"}, "--steps"},
                      BadCall{"width_not_multiple_of_8", {"--width", "100"}, "--width"},
                      BadCall{"guidance_negative", {"--guidance", "-1"}, "--guidance"},
                      BadCall{"unknown_sampler", {"--sampler", "nope"}, "nope"},
                      BadCall{"unknown_schedule", {"--schedule", "nope"}, "nope"},
                      BadCall{"unknown_flag", {"--frobnicate", "1"}, "--frobnicate"},
                      BadCall{"bad_dtype", {"--dtype", "f64"}, "--dtype"},
                      BadCall{"f16_on_the_cpu", {"--dtype", "f16"}, "--dtype f16"},
                      BadCall{"unknown_rng", {"--rng", "nv"}, "--rng"},
                      BadCall{"missing_model", {"--model-path", "/nonexistent/model"}, "/nonexistent/model"},
                      BadCall{"model_without_unet", {"--model-path", "/tmp"}, "unet/config.json"},
                      BadCall{"output_folder_is_a_file", {"--output", SD_SOURCE_DIR "/README.md/x.png"}, "README.md"},
                      BadCall{"init_image_missing", {"--init-image", "/nonexistent/in.png"}, "/nonexistent/in.png"},
                      BadCall{"init_image_not_an_image", {"--init-image", SD_SOURCE_DIR "/README.md"}, "README.md"},
                      BadCall{"mask_without_init_image", {"--mask-image", SD_SOURCE_DIR "/README.md"}, "--init-image"},
                      BadCall{"strength_above_one", {"--strength", "1.5"}, "--strength"},
                      BadCall{"tile_size_without_tiling", {"--vae-tile-size", "32"}, "--vae-tiling"},
                      BadCall{"prompt_with_escape", {"--prompt", "a fox\x1b[2J"}, "--prompt must not contain control characters"},
                      BadCall{"negative_prompt_with_bell", {"--negative-prompt", "\a"}, "--negative-prompt"}),
    [](const auto& info) { return std::string(info.param.name); });

// A model file passed as the image by mistake: refused before it is read into memory.
TEST(SdGenerate, AnInitImageLargerThanAnyImageIsRefusedUnread) {
  const std::string dir = test::temp_dir("sdgen-huge-image");
  const std::string huge = dir + "/model.safetensors";
  std::ofstream(huge, std::ios::binary) << "{}";
  fs::resize_file(huge, uint64_t(4) << 30);  // sparse
  auto args = tiny_args("ddim", dir + "/x.png");
  args.insert(args.end(), {"--init-image", huge});
  test::expect_usage_error(test::run_process(args), huge + ": 4294967296 bytes; an image file has at most 256 MB",
                           dir + "/x.png");
}

}  // namespace
}  // namespace sd
