// sd-generate and the request contract: A1111/ComfyUI names in any case, random seeds that
// are printed and reproduce the image, and the pipeline's refusals named by flag.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <regex>

#include "io/image.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

std::vector<std::string> tiny(const std::string& output, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {test::bin_dir() + "/sd-generate",
                                   "--model-path", test::fixtures_dir() + "/tiny-sd15",
                                   "--tokenizer-dir", test::data_dir() + "/clip",
                                   "--prompt", "a photo of a cat", "--steps", "3", "--width", "64", "--height", "64",
                                   "--dtype", "f32", "--threads", "1", "--output", output};
  for (size_t i = 0; i + 1 < extra.size(); i += 2) {  // a flag given twice replaces the value
    auto it = std::find(args.begin(), args.end(), extra[i]);
    if (it != args.end())
      *(it + 1) = extra[i + 1];
    else
      args.insert(args.end(), {extra[i], extra[i + 1]});
  }
  return args;
}

std::string bytes_of(const std::string& path) { return test::read_file(path); }

std::string parameters_of(const std::string& path) {
  const std::string b = bytes_of(path);
  for (const auto& [key, value] : io::read_png_text(reinterpret_cast<const uint8_t*>(b.data()), b.size()))
    if (key == "parameters") return value;
  return "";
}

// The seed sd-generate says it used.
std::optional<uint64_t> printed_seed(const std::string& err) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex(R"(seed (\d+))"))) return std::nullopt;
  return std::stoull(m[1]);
}

TEST(SdGenerateContract, A1111AndComfyUiNamesInAnyCaseGiveOurSamplersImages) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-names");
  auto run = [&](const std::string& name, std::vector<std::string> flags) {
    auto r = test::run_process(tiny(dir + "/" + name + ".png", flags));
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    return bytes_of(dir + "/" + name + ".png");
  };
  const std::string ours = run("ours", {"--seed", "5", "--sampler", "dpmpp_2m", "--schedule", "karras"});
  EXPECT_EQ(run("a1111", {"--seed", "5", "--sampler", "DPM++ 2M Karras"}), ours);
  EXPECT_EQ(run("a1111-case", {"--seed", "5", "--sampler", "dpm++ 2m", "--schedule", "KARRAS"}), ours);
  EXPECT_NE(parameters_of(dir + "/a1111.png").find("Sampler: DPM++ 2M, Schedule type: Karras, CFG scale"),
            std::string::npos)
      << parameters_of(dir + "/a1111.png");

  const std::string euler_a = run("euler_a", {"--seed", "5", "--sampler", "euler_a"});
  EXPECT_EQ(run("comfy", {"--seed", "5", "--sampler", "euler_ancestral"}), euler_a);
  EXPECT_EQ(run("a1111-euler-a", {"--seed", "5", "--sampler", "Euler A", "--schedule", "Automatic"}), euler_a);
  EXPECT_NE(euler_a, ours);
}

TEST(SdGenerateContract, ARandomSeedIs32BitPrintedAndReproducesTheImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-seed");
  for (const auto& [name, flags] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"minus-one", {"--seed", "-1"}}, {"none", {}}}) {
    auto r = test::run_process(tiny(dir + "/" + name + ".png", flags));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto seed = printed_seed(r.err);
    ASSERT_TRUE(seed) << r.err;
    EXPECT_LE(*seed, 0xFFFFFFFFull);
    EXPECT_NE(parameters_of(dir + "/" + name + ".png").find("Seed: " + std::to_string(*seed) + ","), std::string::npos);
    auto again = test::run_process(tiny(dir + "/" + name + "-again.png", {"--seed", std::to_string(*seed)}));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(bytes_of(dir + "/" + name + "-again.png"), bytes_of(dir + "/" + name + ".png")) << name;
  }
  // Explicit seeds keep the whole 64-bit range.
  auto big = test::run_process(tiny(dir + "/big.png", {"--seed", "18446744073709551615"}));
  ASSERT_EQ(big.exit_code, 0) << big.err;
  EXPECT_EQ(printed_seed(big.err), 18446744073709551615ull);
}

struct Refusal {
  const char* name;
  std::vector<std::string> flags;
  std::string says;
};

class SdGenerateRefusals : public ::testing::TestWithParam<Refusal> {};

// Exit code 2, a last line naming the flag, no image. Refusals by the loaded model's own
// limits (clip_skip: the tiny model has 5 layers) come after its load line.
TEST_P(SdGenerateRefusals, ALineNamingTheFlag) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string out = test::temp_dir("sdgen-refusal") + "/x.png";
  const auto r = test::run_process(tiny(out, GetParam().flags));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::string text = r.err;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const std::string last = text.substr(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  EXPECT_NE(last.find(GetParam().says), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SdGenerateRefusals,
    ::testing::Values(
        Refusal{"strength_without_image", {"--strength", "0.5"}, "--strength requires --init-image"},
        Refusal{"steps_over", {"--steps", "151"}, "sd-generate: --steps must be between 1 and 150, got 151"},
        Refusal{"guidance_over", {"--guidance", "31"}, "sd-generate: --guidance must be between 0 and 30, got 31"},
        Refusal{"width_small", {"--width", "32"}, "sd-generate: --width must be between 64 and 2048, got 32"},
        Refusal{"clip_skip_over", {"--clip-skip", "40"}, "sd-generate: --clip-skip must be between 1 and 12, got 40"},
        Refusal{"clip_skip_over_the_model", {"--clip-skip", "6"}, "sd-generate: --clip-skip must be between 1 and 5, got 6"},
        Refusal{"schedule_sampler_lacks", {"--sampler", "PLMS", "--schedule", "Karras"},
                "sd-generate: --schedule karras does not work with sampler pndm"},
        Refusal{"schedule_contradicts_name", {"--sampler", "DPM++ 2M Karras", "--schedule", "exponential"},
                "--schedule exponential contradicts --sampler \"DPM++ 2M Karras\""},
        Refusal{"comfy_schedule_not_ours", {"--schedule", "normal"}, "--schedule: unknown schedule \"normal\""},
        Refusal{"seed_minus_two", {"--seed", "-2"}, "--seed must be -1 (random) or an integer"},
        Refusal{"seed_too_big", {"--seed", "18446744073709551616"}, "--seed must be -1"},
        Refusal{"lora_strength", {"--lora", SD_SOURCE_DIR "/README.md:11"}, "--lora: loras[0].strength must be between -10 and 10"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sd
