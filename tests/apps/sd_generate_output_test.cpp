// sd-generate's outputs as a user meets them: JPEG and WebP files with the parameters A1111
// reads, numbered files in --output-dir that never replace one another, several images
// from one load (--batch-count, --prompt-file), the parameters text with A1111's values in
// A1111's order, progress lines in a log, and every output mistake refused before the load.
#include <gtest/gtest.h>
#include <webp/decode.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "apps/usage_error.h"
#include "io/image.h"
#include "io/image_format.h"
#include "pipeline/parameters_text.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// The tiny model, 4 DDIM steps at 64x64, float32: about a second a run.
std::vector<std::string> call(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {test::bin_dir() + "/sd-generate",
                                   "--model-path", test::fixtures_dir() + "/tiny-sd15",
                                   "--tokenizer-dir", test::data_dir() + "/clip",
                                   "--steps", "4", "--guidance", "7.5", "--width", "64", "--height", "64",
                                   "--sampler", "ddim", "--dtype", "f32"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string parameters_of(const std::string& path) {
  const auto p = io::read_parameters(read_bytes(path));
  return p.value_or("(no parameters)");
}

TEST(SdGenerateOutput, JpegAndWebpAreDecodedWithTheirParametersReadBack) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-formats");
  const std::vector<std::string> prompt = {"--prompt", "a photo of a cat", "--seed", "42"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), prompt.begin(), prompt.end());
    return call(extra);
  };
  auto r = test::run_process(with({"--output", dir + "/x.png"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_process(with({"--output", dir + "/x.jpg", "--quality", "95"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_process(with({"--output", dir + "/x.webp", "--quality", "95"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // --format names the format of a file whose extension names none.
  r = test::run_process(with({"--output", dir + "/x.image", "--format", "jpeg"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const io::Image png = io::decode_image(read_bytes(dir + "/x.png"));
  const std::string params = parameters_of(dir + "/x.png");
  EXPECT_NE(params.find("Seed: 42"), std::string::npos) << params;

  const Bytes jpeg_bytes = read_bytes(dir + "/x.jpg");
  ASSERT_GE(jpeg_bytes.size(), 3u);
  EXPECT_EQ(jpeg_bytes[0], 0xFF);
  EXPECT_EQ(jpeg_bytes[1], 0xD8);
  const io::Image jpeg = io::decode_image(jpeg_bytes);
  EXPECT_EQ(jpeg.width, 64);
  // The tiny model's images are noise to a lossy codec, so the check is exact instead: the
  // file holds the PNG's pixels as the JPEG encoder writes them at that quality.
  const Bytes png_as_jpeg = io::encode_image(png, io::ImageFormat::Jpeg, 95, "");
  EXPECT_EQ(jpeg.pixels, io::decode_image(png_as_jpeg).pixels);
  EXPECT_EQ(parameters_of(dir + "/x.jpg"), params);

  const Bytes webp_bytes = read_bytes(dir + "/x.webp");
  int w = 0, h = 0;
  uint8_t* rgb = WebPDecodeRGB(webp_bytes.data(), webp_bytes.size(), &w, &h);
  ASSERT_NE(rgb, nullptr) << "not a WebP file";
  const Bytes webp_pixels(rgb, rgb + size_t(w) * h * 3);
  WebPFree(rgb);
  EXPECT_EQ(w, 64);
  EXPECT_EQ(h, 64);
  const Bytes png_as_webp = io::encode_image(png, io::ImageFormat::Webp, 95, "");
  rgb = WebPDecodeRGB(png_as_webp.data(), png_as_webp.size(), &w, &h);
  ASSERT_NE(rgb, nullptr);
  EXPECT_TRUE(std::equal(webp_pixels.begin(), webp_pixels.end(), rgb));
  WebPFree(rgb);
  EXPECT_EQ(parameters_of(dir + "/x.webp"), params);

  EXPECT_NO_THROW(io::decode_image(read_bytes(dir + "/x.image")));
  EXPECT_EQ(parameters_of(dir + "/x.image"), params);
}

TEST(SdGenerateOutput, OutputDirNumbersFilesAndNeverOverwrites) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-outdir") + "/made/by/sd-generate";  // created
  auto r = test::run_process(call({"--prompt", "a cat", "--seed", "7", "--batch-count", "2", "--output-dir", dir}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::files_in(dir), (std::vector<std::string>{"00001-7.png", "00002-8.png"}));

  // A file someone else put there with a higher number: numbering continues after it, and
  // nothing already there is replaced, whatever the seeds.
  { std::ofstream(dir + "/00041-99.png") << "not mine"; }
  const Bytes first = read_bytes(dir + "/00001-7.png");
  r = test::run_process(call({"--prompt", "a cat", "--seed", "7", "--output-dir", dir, "--format", "webp"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::files_in(dir), (std::vector<std::string>{"00001-7.png", "00002-8.png", "00041-99.png", "00042-7.webp"}));
  EXPECT_EQ(read_bytes(dir + "/00001-7.png"), first);
  EXPECT_EQ(test::read_file(dir + "/00041-99.png"), "not mine");
  EXPECT_NE(r.err.find("00042-7.webp"), std::string::npos) << r.err;
}

TEST(SdGenerateOutput, BatchCountOfThreeEqualsThreeSingleRuns) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-batch");
  auto r = test::run_process(call({"--prompt", "a red fox", "--seed", "100", "--batch-count", "3", "--output",
                                   dir + "/b.png"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One load for the three images.
  EXPECT_EQ(r.err.rfind("load ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find("\nload "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[3/3] step 4/4"), std::string::npos) << r.err;
  std::vector<Bytes> images;
  for (int i = 0; i < 3; ++i) {
    const std::string single = dir + "/s" + std::to_string(i) + ".png";
    auto s = test::run_process(call({"--prompt", "a red fox", "--seed", std::to_string(100 + i), "--output", single}));
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const std::string batched = dir + "/b-" + std::to_string(i + 1) + ".png";
    const io::Image a = io::decode_image(read_bytes(batched));
    EXPECT_EQ(a.pixels, io::decode_image(read_bytes(single)).pixels) << "image " << i + 1;
    EXPECT_EQ(parameters_of(batched), parameters_of(single));
    EXPECT_NE(parameters_of(batched).find("Seed: " + std::to_string(100 + i)), std::string::npos);
    images.push_back(a.pixels);
  }
  ASSERT_EQ(images.size(), 3u);
  EXPECT_NE(images[0], images[1]);
  EXPECT_NE(images[1], images[2]);
}

TEST(SdGenerateOutput, PromptFileRunsOneJobPerLine) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-prompts");
  { std::ofstream(dir + "/prompts.txt") << "a red fox\r\n\n   \na blue bird  \n"; }
  auto r = test::run_process(call({"--prompt-file", dir + "/prompts.txt", "--seed", "5", "--batch-count", "2",
                                   "--output-dir", dir + "/out"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Each line runs --batch-count times with the same seeds, so lines compare image by image.
  const auto names = test::files_in(dir + "/out");
  ASSERT_EQ(names, (std::vector<std::string>{"00001-5.png", "00002-6.png", "00003-5.png", "00004-6.png"}));
  EXPECT_EQ(parameters_of(dir + "/out/00002-6.png").rfind("a red fox\nSteps: 4", 0), 0u);
  EXPECT_EQ(parameters_of(dir + "/out/00003-5.png").rfind("a blue bird\nSteps: 4", 0), 0u);
}

// The settings line parsed back (pipeline/parameters_text.h reads it as A1111's
// parse_generation_parameters does) holds A1111's keys in A1111's order, display names,
// the model's name and hash, the LoRA's name and hash, and no path.
TEST(SdGenerateOutput, ParametersHaveA1111sValuesInA1111sOrder) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-params");
  auto args = call({"--prompt", "a photo of a cat", "--negative-prompt", "blurry, dark", "--seed", "42",
                    "--clip-skip", "2", "--schedule", "karras", "--lora",
                    test::fixtures_dir() + "/tiny-lora-sd15.safetensors:0.8", "--output", dir + "/p.png"});
  *(std::find(args.begin(), args.end(), "--sampler") + 1) = "dpmpp_2m";
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = parameters_of(dir + "/p.png");
  EXPECT_EQ(text.find('/'), std::string::npos) << "a path in: " << text;

  const auto parsed = pipeline::parse_parameters_text(text);
  EXPECT_EQ(parsed.prompt, "a photo of a cat");
  EXPECT_EQ(parsed.negative_prompt, "blurry, dark");
  // sha256sum of tests/fixtures/tiny-sd15/unet/diffusion_pytorch_model.safetensors starts
  // ca9bdf1f0e; the LoRA's tensor data (after its header) hashes to cdc221a33272...
  const std::vector<std::pair<std::string, std::string>> want = {
      {"Steps", "4"},
      {"Sampler", "DPM++ 2M"},
      {"Schedule type", "Karras"},
      {"CFG scale", "7.5"},
      {"Seed", "42"},
      {"Size", "64x64"},
      {"Model hash", "ca9bdf1f0e"},
      {"Model", "tiny-sd15"},
      {"Clip skip", "2"},
      {"RNG", "CPU"},
      {"Lora hashes", "tiny-lora-sd15: cdc221a33272"},
      {"Lora", "tiny-lora-sd15:0.8"}};
  EXPECT_EQ(parsed.settings, want) << text;
}

TEST(SdGenerateOutput, SingleFileModelIsNamedAndHashedAsA1111Does) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-single-hash");
  auto args = call({"--prompt", "a cat", "--seed", "1", "--config", test::fixtures_dir() + "/tiny-sd15", "--output",
                    dir + "/s.png"});
  *(std::find(args.begin(), args.end(), "--model-path") + 1) = test::fixtures_dir() + "/tiny-sd15-single-file.safetensors";
  auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // sha256sum of the whole checkpoint file starts 80d815a1bc.
  EXPECT_NE(parameters_of(dir + "/s.png").find("Model hash: 80d815a1bc, Model: tiny-sd15-single-file,"),
            std::string::npos)
      << parameters_of(dir + "/s.png");
}

TEST(SdGenerateOutput, ProgressInALogIsOneLinePerStepWithRateAndEta) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-progress");
  auto r = test::run_process(call({"--prompt", "a cat", "--seed", "3", "--output", dir + "/x.png"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // stderr is a pipe here: no carriage returns, no terminal escapes.
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\033'), std::string::npos) << r.err;
  std::vector<std::string> lines;
  for (size_t at = 0; at < r.err.size();) {
    const size_t nl = r.err.find('\n', at);
    lines.push_back(r.err.substr(at, nl - at));
    at = nl == std::string::npos ? r.err.size() : nl + 1;
  }
  // A line per phase, in the order they run, and one per step.
  const std::vector<std::string> starts = {"load ",      "step 1/4 ", "step 2/4 ", "step 3/4 ", "step 4/4 ",
                                           "text encode", "sampling ", "decode ",  "save ",     "total "};
  ASSERT_EQ(lines.size(), starts.size()) << r.err;
  for (size_t i = 0; i < starts.size(); ++i) EXPECT_EQ(lines[i].rfind(starts[i], 0), 0u) << lines[i];
  for (int i = 1; i <= 4; ++i) {
    const std::string& l = lines[size_t(i)];
    EXPECT_TRUE(l.find(" s/it") != std::string::npos || l.find(" it/s") != std::string::npos) << l;
    EXPECT_NE(l.find("ETA "), std::string::npos) << l;
  }
  EXPECT_NE(lines[0].find("tiny-sd15, v1-5, f32"), std::string::npos) << lines[0];
  EXPECT_NE(lines.back().find("model load included"), std::string::npos) << lines.back();
}

struct OutputMistake {
  const char* name;
  std::vector<std::string> extra;
  const char* mentions;
};

class SdGenerateOutputMistakes : public ::testing::TestWithParam<OutputMistake> {};

// Refused with one line and exit code 2 before the model loads: no "load" line, no file.
TEST_P(SdGenerateOutputMistakes, RefusedBeforeTheLoad) {
  const OutputMistake c = GetParam();
  const std::string dir = test::temp_dir("sdgen-outbad");
  { std::ofstream(dir + "/a-file") << "x"; }
  { std::ofstream(dir + "/prompts.txt") << "a cat\nbad \x1b[2J line\n"; }
  { std::ofstream(dir + "/empty.txt") << "\n \n"; }
  fs::create_directories(dir + "/a-folder");
  std::vector<std::string> extra;
  for (std::string a : c.extra) {
    if (a.rfind("DIR", 0) == 0) a = dir + a.substr(3);
    extra.push_back(a);
  }
  if (std::find(extra.begin(), extra.end(), "--prompt-file") == extra.end()) {
    extra.push_back("--prompt");
    extra.push_back("a cat");
  }
  auto r = test::run_process(call(extra));
  test::expect_usage_error(r, c.mentions, dir + "/x.png");
  EXPECT_EQ(r.err.find("load "), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SdGenerateOutputMistakes,
    ::testing::Values(
        OutputMistake{"folder_is_a_file", {"--output", "DIR/a-file/x.png"}, "--output: "},
        OutputMistake{"output_is_a_folder", {"--output", "DIR/a-folder"}, "--output-dir"},
        OutputMistake{"output_dir_is_a_file", {"--output-dir", "DIR/a-file"}, "--output-dir: "},
        OutputMistake{"unknown_extension", {"--output", "DIR/x.gif"}, "--output"},
        OutputMistake{"format_contradicts_extension", {"--output", "DIR/x.png", "--format", "webp"}, "--format"},
        OutputMistake{"unknown_format", {"--output", "DIR/x.png", "--format", "gif"}, "--format"},
        OutputMistake{"quality_on_png", {"--output", "DIR/x.png", "--quality", "90"}, "--quality"},
        OutputMistake{"quality_out_of_range", {"--output", "DIR/x.jpg", "--quality", "0"}, "--quality"},
        OutputMistake{"both_outputs", {"--output", "DIR/x.png", "--output-dir", "DIR/out"}, "--output"},
        OutputMistake{"latents_of_several", {"--output", "DIR/x.png", "--batch-count", "2", "--save-latents",
                                             "DIR/l.safetensors"}, "--save-latents"},
        OutputMistake{"batch_count_zero", {"--output", "DIR/x.png", "--batch-count", "0"}, "--batch-count"},
        OutputMistake{"prompt_file_bad_line", {"--output", "DIR/x.png", "--prompt-file", "DIR/prompts.txt"},
                      "prompts.txt line 2"},
        OutputMistake{"prompt_file_empty", {"--output", "DIR/x.png", "--prompt-file", "DIR/empty.txt"}, "empty.txt"},
        OutputMistake{"prompt_and_prompt_file", {"--output", "DIR/x.png", "--prompt-file", "DIR/empty.txt",
                                                 "--prompt", "a dog"}, "--prompt"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sd
