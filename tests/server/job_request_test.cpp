#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "io/image.h"
#include "server/job_request.h"
#include "support/test_support.h"

namespace sd::server {
namespace {

using nlohmann::json;

// What a loaded SD1.5 model reports (its limits are the contract's defaults).
pipeline::ModelInfo sd15_info() {
  pipeline::ModelInfo m;
  m.version = "v1-5";
  m.native_width = m.native_height = 512;
  m.default_steps = 20;
  m.default_guidance = 7.5f;
  m.default_sampler = pipeline::Sampler::Ddim;
  return m;
}

JobSpec parse(const json& body, const RequestPolicy& policy = {}) {
  return parse_job_request(body, sd15_info(), policy);
}

json txt2img() { return {{"operation", "image_generation"}, {"prompt", "a red fox"}}; }

json with(json body, const std::string& key, json value) {
  body[key] = std::move(value);
  return body;
}

std::string png_base64(int w, int h, int channels = 3) {
  io::Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.assign(size_t(w) * h * channels, 200);
  return io::base64_encode(io::encode_png(img));
}

TEST(JobRequest, DefaultsComeFromTheModel) {
  auto spec = parse(txt2img());
  const auto& r = spec.request;
  EXPECT_EQ(spec.operation, "image_generation");
  EXPECT_EQ(r.operation, pipeline::Operation::Txt2Img);
  EXPECT_EQ(r.prompt, "a red fox");
  EXPECT_EQ(r.negative_prompt, "");
  EXPECT_EQ(r.steps, 20);
  EXPECT_FLOAT_EQ(r.guidance_scale, 7.5f);
  EXPECT_EQ(r.width, 512);
  EXPECT_EQ(r.height, 512);
  EXPECT_EQ(r.sampler, pipeline::Sampler::Ddim);
  EXPECT_EQ(r.schedule, pipeline::Schedule::Default);
  EXPECT_EQ(r.preview, pipeline::PreviewMode::LatentRgb);
  EXPECT_EQ(r.preview_every, 5);
  EXPECT_TRUE(spec.echo.empty());
  EXPECT_TRUE(spec.warnings.empty());
}

TEST(JobRequest, AllFieldsTaken) {
  json body = txt2img();
  body.update({{"negative_prompt", "blurry"}, {"steps", 4}, {"guidance_scale", 0}, {"seed", 42}, {"width", 64},
               {"height", 128}, {"sampler", "Euler_A"}, {"schedule", "karras"}, {"clip_skip", 2},
               {"hive_id", "hive-1"}, {"model", "v1-5"}, {"worker_id", "w1"}, {"unknown_field", {1, 2}}});
  auto spec = parse(body, {{}, pipeline::PreviewMode::None, 5});
  const auto& r = spec.request;
  EXPECT_EQ(r.negative_prompt, "blurry");
  EXPECT_EQ(r.steps, 4);
  EXPECT_FLOAT_EQ(r.guidance_scale, 0.f);
  EXPECT_EQ(r.seed, 42u);
  EXPECT_EQ(r.width, 64);
  EXPECT_EQ(r.height, 128);
  EXPECT_EQ(r.sampler, pipeline::Sampler::EulerA);
  EXPECT_EQ(r.schedule, pipeline::Schedule::Karras);
  EXPECT_EQ(r.clip_skip, 2);
  EXPECT_EQ(r.preview, pipeline::PreviewMode::None);
  EXPECT_EQ(spec.echo, json({{"hive_id", "hive-1"}, {"model", "v1-5"}, {"worker_id", "w1"}}));
  EXPECT_EQ(spec.warnings, std::vector<std::string>{"unknown field unknown_field was ignored"});
}

TEST(JobRequest, SeedRange) {
  EXPECT_EQ(parse(with(txt2img(), "seed", 0)).request.seed, 0u);
  EXPECT_EQ(parse(json::parse(R"({"operation":"image_generation","prompt":"x","seed":18446744073709551615})")).request.seed,
            18446744073709551615ull);
  EXPECT_EQ(parse(with(txt2img(), "seed", 7.0)).request.seed, 7u);
  // null and absent both mean a random seed; two draws differing shows it is random.
  auto a = parse(with(txt2img(), "seed", nullptr)).request.seed;
  auto b = parse(txt2img()).request.seed;
  auto c = parse(txt2img()).request.seed;
  EXPECT_FALSE(a == b && b == c);
  // -1 is random too (A1111), and random seeds are 32-bit, so JSON clients carry them exactly.
  std::set<uint64_t> drawn;
  for (int i = 0; i < 64; ++i) {
    const uint64_t s = parse(with(txt2img(), "seed", -1)).request.seed;
    EXPECT_LE(s, 0xFFFFFFFFull);
    drawn.insert(s);
  }
  EXPECT_GT(drawn.size(), 60u);
  EXPECT_LE(parse(with(txt2img(), "seed", -1.0)).request.seed, 0xFFFFFFFFull);
}

TEST(JobRequest, IntegralFloatsAreIntegers) {
  EXPECT_EQ(parse(with(txt2img(), "steps", 12.0)).request.steps, 12);
}

struct BadCase {
  std::string name;
  json body;
  std::string field;
  std::string says;  // part of the message
};

TEST(JobRequest, EveryBadFieldIsNamed) {
  json big_seed = json::parse(R"({"operation":"image_generation","prompt":"x","seed":18446744073709551616})");
  std::vector<BadCase> cases = {
      {"not an object", json::array({1, 2}), "body", "JSON object"},
      {"missing operation", {{"prompt", "x"}}, "operation", "operation is required"},
      {"unknown operation", with(txt2img(), "operation", "video_generation"), "operation", "must be one of"},
      {"operation not a string", with(txt2img(), "operation", 3), "operation", "must be a string"},
      {"missing prompt", {{"operation", "image_generation"}}, "prompt", "prompt is required"},
      {"null prompt", with(txt2img(), "prompt", nullptr), "prompt", "prompt is required"},
      {"prompt a number", with(txt2img(), "prompt", 5), "prompt", "must be a string, got 5"},
      {"prompt too long", with(txt2img(), "prompt", std::string(10001, 'a')), "prompt", "at most 10000 bytes"},
      {"prompt with NUL", with(txt2img(), "prompt", std::string("a fox\0", 6)), "prompt",
       "must not contain control characters; found U+0000 at byte 5"},
      {"negative prompt with ESC", with(txt2img(), "negative_prompt", "blur\x1b[2J"), "negative_prompt", "found U+001B"},
      {"prompt with a C1 control", with(txt2img(), "prompt", "a\xc2\x85" "b"), "prompt", "found U+0085"},
      {"tall thin image", with(with(txt2img(), "operation", "image_transform"), "input_image", png_base64(2, 9000)),
       "input_image", "is 2x9000; its sides must be at most 8192 pixels"},
      {"image of extreme aspect", with(with(txt2img(), "operation", "image_transform"), "input_image", png_base64(2, 200)),
       "input_image", "aspect ratio must be at most 32:1"},
      {"negative prompt a list", with(txt2img(), "negative_prompt", {"a"}), "negative_prompt", "must be a string"},
      {"steps 0", with(txt2img(), "steps", 0), "steps", "between 1 and 150, got 0"},
      {"steps 1000", with(txt2img(), "steps", 1000), "steps", "between 1 and 150, got 1000"},
      {"steps a string", with(txt2img(), "steps", "20"), "steps", "must be an integer, got \"20\""},
      {"steps fractional", with(txt2img(), "steps", 20.5), "steps", "must be an integer"},
      {"steps a bool", with(txt2img(), "steps", true), "steps", "must be an integer"},
      {"guidance -1", with(txt2img(), "guidance_scale", -1), "guidance_scale", "between 0 and 30, got -1"},
      {"guidance 31", with(txt2img(), "guidance_scale", 31.5), "guidance_scale", "between 0 and 30"},
      {"guidance a string", with(txt2img(), "guidance_scale", "7"), "guidance_scale", "must be a number"},
      {"width 513", with(txt2img(), "width", 513), "width", "width must be a multiple of 8, got 513"},
      {"width 32", with(txt2img(), "width", 32), "width", "between 64 and 2048, got 32"},
      {"height 4096", with(txt2img(), "height", 4096), "height", "between 64 and 2048, got 4096"},
      {"height negative", with(txt2img(), "height", -64), "height", "between 64 and 2048"},
      {"seed negative", with(txt2img(), "seed", -2), "seed", "-1 (random) or an integer between 0 and 18446744073709551615"},
      {"seed 2^64", big_seed, "seed", "seed must be -1 (random) or an integer"},
      {"seed fractional", with(txt2img(), "seed", 1.5), "seed", "seed must be -1 (random) or an integer"},
      {"seed a string", with(txt2img(), "seed", "42"), "seed", "integer or null"},
      {"unknown sampler", with(txt2img(), "sampler", "magic"), "sampler", "must be one of ddim, euler"},
      {"unknown schedule", with(txt2img(), "schedule", "cosine"), "schedule", "must be one of default, karras"},
      {"schedule the sampler lacks", with(with(txt2img(), "sampler", "pndm"), "schedule", "karras"), "schedule",
       "does not work with sampler pndm"},
      {"strength 1.5", with(with(with(txt2img(), "operation", "image_transform"), "input_image", png_base64(64, 64)), "strength", 1.5),
       "strength", "between 0 and 1"},
      {"steps beyond an int", with(txt2img(), "steps", 99999999999LL), "steps", "out of range"},
      {"guidance beyond a float", with(txt2img(), "guidance_scale", 1e300), "guidance_scale", "out of range"},
      {"sampler a number", with(txt2img(), "sampler", 3), "sampler", "must be a string"},
      {"schedule contradicting the sampler name", with(with(txt2img(), "sampler", "DPM++ 2M Karras"), "schedule", "exponential"),
       "schedule", "contradicts"},
      {"clip_skip 0", with(txt2img(), "clip_skip", 0), "clip_skip", "between 1 and 12"},
      {"clip_skip 13", with(txt2img(), "clip_skip", 13), "clip_skip", "between 1 and 12"},
      {"loras an object", with(txt2img(), "loras", {{"path", "a"}}), "loras", "must be an array"},
      {"lora without path", with(txt2img(), "loras", json::array({{{"strength", 1}}})), "loras[0]", "needs \"path\" or \"name\""},
      {"17 loras", with(txt2img(), "loras", json(std::vector<json>(17, json::object()))), "loras", "at most 16 entries, got 17"},
      {"lora without a lora folder", with(txt2img(), "loras", json::array({{{"path", "/no/such.safetensors"}}})),
       "loras[0].path", "LoRAs are disabled on this worker"},
      {"lora name without folder", with(txt2img(), "loras", json::array({{{"name", "style"}}})), "loras[0].name",
       "--lora-dir"},
      {"hive_id an object", with(txt2img(), "hive_id", {{"a", 1}}), "hive_id", "must be a string"},
      {"transform without image", with(txt2img(), "operation", "image_transform"), "input_image", "input_image is required"},
      {"bad base64", with(with(txt2img(), "operation", "image_transform"), "input_image", "not base64!"), "input_image",
       "not valid base64"},
      {"base64 of text", with(with(txt2img(), "operation", "image_transform"), "init_image", io::base64_encode(std::vector<uint8_t>{'h', 'i'})),
       "init_image", "not a PNG or JPEG image"},
      {"transform strength leaves no step",
       with(with(with(with(txt2img(), "operation", "image_transform"), "input_image", png_base64(64, 64)), "strength",
                 0.01),
            "steps", 20),
       "strength", "leaves no step to run"},
      {"unknown preview", with(txt2img(), "preview", "video"), "preview", "must be one of none, latent"},
      {"taesd preview not loaded", with(txt2img(), "preview", "taesd"), "preview", "must be one of none, latent"},
      {"preview_every -1", with(txt2img(), "preview_every", -1), "preview_every", "between 0 and 150"},
      {"taesd decoder not loaded", with(txt2img(), "decoder", "taesd"), "decoder", "must be one of vae"},
      {"inpaint without mask",
       with(with(txt2img(), "operation", "image_inpaint"), "input_image", png_base64(64, 64)), "mask_image",
       "mask_image is required"},
  };
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    try {
      parse(c.body);
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), c.field) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << c.name << ": " << e.what();
    }
  }
}

TEST(JobRequest, BodyTextErrors) {
  EXPECT_EQ(parse_job_body(R"({"a":1})")["a"], 1);
  for (std::string text : {std::string("{bad json"), std::string(""), std::string("{\"a\":1,}"),
                           std::string(100, '[') + std::string(100, ']'),
                           // found by fuzz_job_request: out_of_range escaped as a 500
                           std::string(R"({"operation":"image_generation","prompt":"x","seed":1e400})")}) {
    try {
      parse_job_body(text);
      ADD_FAILURE() << "accepted: " << text.substr(0, 20);
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), "body");
    }
  }
  // Hostile bodies: a number no double holds in a field nobody reads, a body of tiny values.
  std::string tiny_values = "{\"operation\":\"image_generation\",\"prompt\":\"x\",\"junk\":[";
  for (int i = 0; i < 100000; ++i) tiny_values += "0,";
  tiny_values += "0]}";
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {R"({"operation":"image_generation","prompt":"x","extra":{"deep":[1e400]}})", "number out of range"},
      {R"({"operation":"image_generation","prompt":"x","steps":)" + std::string(400, '9') + "}", "number out of range"},
      {tiny_values, "has more than 10000 values"},
  };
  for (const auto& [text, says] : hostile) {
    try {
      parse_job_body(text);
      ADD_FAILURE() << "accepted: " << text.substr(0, 60);
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), "body");
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  }
}

TEST(JobRequest, TransformTakesTheImageAndItsSize) {
  json body = {{"operation", "image_transform"}, {"prompt", "x"}, {"input_image", png_base64(96, 72)}, {"strength", 0.5}};
  auto spec = parse(body);
  ASSERT_TRUE(spec.request.init_image);
  EXPECT_EQ(spec.request.operation, pipeline::Operation::Img2Img);
  EXPECT_EQ(spec.request.init_image->width, 96);
  EXPECT_EQ(spec.request.init_image->channels, 3);
  EXPECT_EQ(spec.request.width, 96);
  EXPECT_EQ(spec.request.height, 72);
  EXPECT_FLOAT_EQ(spec.request.strength, 0.5f);
  // A data: URL prefix is accepted, and an explicit size wins.
  body["input_image"] = "data:image/png;base64," + png_base64(96, 72);
  body["width"] = 128;
  EXPECT_EQ(parse(body).request.width, 128);
}

TEST(JobRequest, InpaintTakesAGreyMask) {
  json body = {{"operation", "image_inpaint"}, {"prompt", "x"}, {"init_image", png_base64(64, 64)},
               {"mask_image", png_base64(64, 64, 1)}};
  auto spec = parse(body);
  EXPECT_EQ(spec.request.operation, pipeline::Operation::Inpaint);
  EXPECT_FLOAT_EQ(spec.request.strength, 1.0f);  // repaint from noise, as diffusers' default
  ASSERT_TRUE(spec.request.mask_image);
  EXPECT_EQ(spec.request.mask_image->channels, 1);
}

TEST(JobRequest, PreviewAndDecoderPerJob) {
  pipeline::ModelInfo m = sd15_info();
  m.preview_modes = {"none", "latent", "taesd"};
  m.decoders = {"vae", "taesd"};
  json body = txt2img();
  body.update({{"preview", "TAESD"}, {"preview_every", 2}, {"decoder", "taesd"}});
  auto r = parse_job_request(body, m, {}).request;
  EXPECT_EQ(r.preview, pipeline::PreviewMode::Taesd);
  EXPECT_EQ(r.preview_every, 2);
  EXPECT_EQ(r.decoder, pipeline::FinalDecoder::Taesd);
  body = with(txt2img(), "preview", "none");
  EXPECT_EQ(parse_job_request(body, m, {}).request.preview, pipeline::PreviewMode::None);
  EXPECT_EQ(parse_job_request(txt2img(), m, {}).request.decoder, pipeline::FinalDecoder::Vae);
}

TEST(JobRequest, LorasByPathOrByNameInTheLoraFolder) {
  namespace fs = std::filesystem;
  std::string dir = sd::test::temp_dir("loras");
  std::ofstream(dir + "/style.safetensors") << "x";
  fs::create_directories(dir + "/sub");
  std::ofstream(dir + "/sub/detail.safetensors") << "x";
  json body = with(txt2img(), "loras", json::array({{{"name", "style"}, {"strength", -0.5}},
                                                    {{"path", dir + "/style.safetensors"}},
                                                    {{"path", "sub/detail.safetensors"}}}));
  auto spec = parse(body, {{dir}, pipeline::PreviewMode::Taesd, 3});
  ASSERT_EQ(spec.request.loras.size(), 3u);
  EXPECT_EQ(fs::path(spec.request.loras[0].path), fs::canonical(fs::path(dir) / "style.safetensors"));
  EXPECT_EQ(fs::path(spec.request.loras[1].path), fs::canonical(fs::path(dir) / "style.safetensors"));
  EXPECT_EQ(fs::path(spec.request.loras[2].path), fs::canonical(fs::path(dir) / "sub/detail.safetensors"));
  EXPECT_FLOAT_EQ(spec.request.loras[0].strength, -0.5f);
  EXPECT_FLOAT_EQ(spec.request.loras[1].strength, 1.f);
  EXPECT_EQ(spec.request.preview, pipeline::PreviewMode::Taesd);
  EXPECT_EQ(spec.request.preview_every, 3);
}

// Nothing outside the LoRA folders is read, and a refusal is the same whether or not the
// file exists, so a client cannot probe the file system.
TEST(JobRequest, LorasOutsideTheLoraFoldersAreRefusedAlike) {
  namespace fs = std::filesystem;
  const std::string root = sd::test::temp_dir("lora-escape");
  const std::string dir = root + "/loras", other = root + "/other";
  fs::create_directories(dir);
  fs::create_directories(other);
  std::ofstream(other + "/secret.safetensors") << "secret bytes";
  std::ofstream(dir + "/ok.safetensors") << "x";
  fs::create_symlink(other + "/secret.safetensors", dir + "/link.safetensors");
  fs::create_symlink(other, dir + "/linked-dir");
  fs::create_directories(dir + "/folder.safetensors");
  auto refusal = [&](const json& lora) {
    try {
      parse(with(txt2img(), "loras", json::array({lora})), {{dir}});
    } catch (const InvalidArgument& e) {
      std::string m = e.what();
      EXPECT_EQ(m.find("secret bytes"), std::string::npos);
      return m;
    }
    ADD_FAILURE() << lora.dump() << " was accepted";
    return std::string();
  };
  const std::vector<std::pair<json, json>> existing_and_missing = {
      {{{"path", other + "/secret.safetensors"}}, {{"path", other + "/nothing.safetensors"}}},
      {{{"path", "../other/secret.safetensors"}}, {{"path", "../other/nothing.safetensors"}}},
      {{{"path", "link.safetensors"}}, {{"path", "nolink.safetensors"}}},
      {{{"path", "linked-dir/secret.safetensors"}}, {{"path", "linked-dir/nothing.safetensors"}}},
      {{{"path", dir + "/../other/secret.safetensors"}}, {{"path", dir + "/../other/nothing.safetensors"}}},
      {{{"name", "link"}}, {{"name", "nolink"}}},
      {{{"name", "../other/secret"}}, {{"name", "../other/nothing"}}},
      {{{"path", "folder.safetensors"}}, {{"path", "nofolder.safetensors"}}},
      {{{"path", "/dev/zero"}}, {{"path", "/dev/nothing"}}},
  };
  for (const auto& [existing, missing] : existing_and_missing) {
    std::string a = refusal(existing), b = refusal(missing);
    EXPECT_NE(a.find("in the worker's LoRA folders"), std::string::npos) << a;
    // The same words, only the quoted reference differs.
    auto strip = [](std::string m) { return m.substr(0, m.find('"')) + m.substr(m.rfind('"')); };
    EXPECT_EQ(strip(a), strip(b)) << a << " vs " << b;
  }
  EXPECT_NO_THROW(parse(with(txt2img(), "loras", json::array({{{"path", "ok.safetensors"}}})), {{dir}}));
  EXPECT_NO_THROW(parse(with(txt2img(), "loras", json::array({{{"path", "ok.safetensors"}}})), {{other, dir}}));
}

TEST(JobRequest, WorkerVaeTilingAppliesToEveryJob) {
  EXPECT_FALSE(parse(txt2img()).request.vae_tiling);
  RequestPolicy policy;
  policy.vae_tiling = true;
  policy.vae_tile_size = 256;
  const auto r = parse(txt2img(), policy).request;
  EXPECT_TRUE(r.vae_tiling);
  EXPECT_EQ(r.vae_tile_size, 256);
}

}  // namespace
}  // namespace sd::server
