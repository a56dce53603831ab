// sd-generate with the other ways to name a model: the tiny-sd15 single-file checkpoint
// with --config writes the folder's reference image, and contradictory or incomplete
// model flags give one line and exit code 2 before anything loads.
#include <gtest/gtest.h>

#include <fstream>
#include <string_view>

#include "apps/usage_error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

std::string single_file() { return test::fixtures_dir() + "/tiny-sd15-single-file.safetensors"; }

// A DDIM call on the tiny model, with the model named by `model_args`.
std::vector<std::string> call(const std::vector<std::string>& model_args, const std::string& output) {
  std::vector<std::string> args = {test::bin_dir() + "/sd-generate"};
  args.insert(args.end(), model_args.begin(), model_args.end());
  args.insert(args.end(), {"--tokenizer-dir", test::data_dir() + "/clip",
                           "--prompt",        "a photo of a cat",
                           "--steps",         "4",
                           "--guidance",      "7.5",
                           "--seed",          "42",
                           "--width",         "64",
                           "--height",        "64",
                           "--sampler",       "ddim",
                           "--dtype",         "f32",
                           "--output",        output});
  return args;
}

TEST(SdGenerateModels, SingleFileWithConfigWritesTheReferenceImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string png = test::temp_dir("sdgen_single") + "/x.png";
  auto r = test::run_process(call(
      {"--model-path", single_file(), "--config", test::fixtures_dir() + "/tiny-sd15", "--sd-version", "v1.5"}, png));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::ifstream in(png, std::ios::binary);
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  const io::Image img = io::decode_image(bytes.data(), bytes.size());
  const auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  const Tensor want = ref.view("t2i.ddim.image_u8");
  ASSERT_EQ(img.pixels.size(), size_t(want.numel()));
  int worst = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i)
    worst = std::max(worst, std::abs(int(img.pixels[i]) - int(want.data<uint8_t>()[i])));
  EXPECT_LE(worst, 1);
}

struct BadModelCall {
  const char* name;
  std::vector<std::string> model_args;
  const char* mentions;
};

class SdGenerateBadModelFlags : public ::testing::TestWithParam<BadModelCall> {};

// Arguments starting with kFixtures name files in test::fixtures_dir(), which is only
// known once a test runs (the parameter lists are built before main).
constexpr std::string_view kFixtures = "<fixtures>";

TEST_P(SdGenerateBadModelFlags, OneLineAndExitCode2) {
  const BadModelCall& c = GetParam();
  const std::string dir = test::temp_dir("sdgen_bad_model");
  std::vector<std::string> model_args = c.model_args;
  for (std::string& a : model_args)
    if (a.starts_with(kFixtures)) a = test::fixtures_dir() + a.substr(kFixtures.size());
  auto r = test::run_process(call(model_args, dir + "/x.png"));
  test::expect_usage_error(r, c.mentions, dir + "/x.png");
}

const std::string kFolder = std::string(kFixtures) + "/tiny-sd15";
const std::string kFile = std::string(kFixtures) + "/tiny-sd15-single-file.safetensors";

INSTANTIATE_TEST_SUITE_P(
    Cases, SdGenerateBadModelFlags,
    ::testing::Values(
        BadModelCall{"no_model", {}, "--model-path, --model or --sd-version"},
        BadModelCall{"model_and_model_path", {"--model-path", kFolder, "--model", "v1-5"}, "--model-path and --model"},
        BadModelCall{"unknown_version", {"--model-path", kFolder, "--sd-version", "v9"}, "--sd-version v9"},
        BadModelCall{"model_not_a_model", {"--model", "no such model"}, "--model no such model"},
        BadModelCall{"versions_disagree", {"--model", "xl", "--sd-version", "v1-5"}, "different versions"},
        BadModelCall{"config_for_a_folder", {"--model-path", kFolder, "--config", kFolder}, "--config"},
        BadModelCall{"config_missing", {"--model-path", kFile, "--config", "/nonexistent/configs"}, "/nonexistent"},
        BadModelCall{"wrong_version_for_single_file",
                     {"--model-path", kFile, "--config", kFolder, "--sd-version", "xl"},
                     "not the requested xl"},
        BadModelCall{"config_of_another_family",
                     {"--model-path", kFile, "--config", std::string(kFixtures) + "/tiny-sd21v"},
                     "SD1.x"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sd
