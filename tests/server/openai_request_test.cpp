// The OpenAI images requests translated into native jobs: OpenAI's fields, the extension
// fields, multipart text fields typed, alpha masks turned into the pipeline's white-is-
// repaint masks, and every refusal in OpenAI's terms naming OpenAI's parameter.
#include "server/openai_request.h"

#include <gtest/gtest.h>

#include "io/image.h"

namespace sd::server {
namespace {

using nlohmann::json;

pipeline::ModelInfo tiny_model() {
  pipeline::ModelInfo m;
  m.version = "v1-5";
  m.native_width = m.native_height = 64;
  m.preview_modes = {"none", "latent"};
  m.decoders = {"vae"};
  return m;
}

OpenAiError error_of_generation(const json& body) {
  try {
    auto req = parse_openai_generation(body, "tiny-sd15", tiny_model().limits);
    openai_job_spec(req, tiny_model(), RequestPolicy{});
  } catch (const OpenAiRequestError& e) {
    return e.error();
  }
  return OpenAiError{0, "(no error)", "", "", "", 0};
}

std::string png_bytes(int w, int h, int channels, uint8_t alpha_left, uint8_t alpha_right) {
  io::Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.resize(size_t(w) * h * channels, 90);
  if (channels == 4)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) img.at(x, y, 3) = x < w / 2 ? alpha_left : alpha_right;
  auto bytes = io::encode_png(img);
  return std::string(bytes.begin(), bytes.end());
}

io::FormPart text_part(std::string name, std::string_view value) {
  io::FormPart p;
  p.name = std::move(name);
  p.data = value;
  return p;
}

io::FormPart file_part(std::string name, std::string_view bytes) {
  io::FormPart p = text_part(std::move(name), bytes);
  p.filename = "upload.png";
  p.content_type = "image/png";
  return p;
}

TEST(OpenAiRequest, GenerationBecomesANativeJob) {
  auto req = parse_openai_generation({{"prompt", "a fox"},
                                      {"n", 3},
                                      {"size", "96x64"},
                                      {"response_format", "url"},
                                      {"model", "auto"},
                                      {"quality", "hd"},
                                      {"user", "someone"},
                                      {"seed", 11},
                                      {"steps", 4},
                                      {"sampler", "euler_a"},
                                      {"schedule", "karras"},
                                      {"negative_prompt", "blurry"},
                                      {"guidance_scale", 6.5}},
                                     "tiny-sd15", tiny_model().limits);
  EXPECT_EQ(req.n, 3);
  EXPECT_EQ(req.response_format, ImageResponseFormat::Url);
  EXPECT_EQ(req.job, json({{"operation", "image_generation"},
                           {"prompt", "a fox"},
                           {"width", 96},
                           {"height", 64},
                           {"seed", 11},
                           {"steps", 4},
                           {"sampler", "euler_a"},
                           {"schedule", "karras"},
                           {"negative_prompt", "blurry"},
                           {"guidance_scale", 6.5},
                           {"num_images", 3}}));
  JobSpec spec = openai_job_spec(req, tiny_model(), RequestPolicy{});
  EXPECT_EQ(spec.request.batch_size, 3);  // n images as one batch
  EXPECT_EQ(spec.request.width, 96);
  EXPECT_EQ(spec.request.seed, 11u);
  EXPECT_EQ(spec.request.sampler, pipeline::Sampler::EulerA);

  auto defaults = parse_openai_generation({{"prompt", "a fox"}, {"size", "auto"}}, "tiny-sd15", tiny_model().limits);
  EXPECT_EQ(defaults.n, 1);
  EXPECT_EQ(defaults.response_format, ImageResponseFormat::B64Json);
  EXPECT_FALSE(defaults.job.contains("width"));
  EXPECT_EQ(openai_job_spec(defaults, tiny_model(), RequestPolicy{}).request.width, 64);
}

TEST(OpenAiRequest, RefusalsNameOpenAiParameters) {
  struct Case {
    json body;
    int status;
    std::string param, code;
  };
  const std::vector<Case> cases = {
      {{{"size", "64x64"}}, 400, "prompt", "missing_required_parameter"},
      {{{"prompt", 3}}, 400, "prompt", "invalid_value"},
      {{{"prompt", "x"}, {"n", 0}}, 400, "n", "invalid_value"},
      {{{"prompt", "x"}, {"n", 9}}, 400, "n", "invalid_value"},
      {{{"prompt", "x"}, {"n", "2"}}, 400, "n", "invalid_type"},
      {{{"prompt", "x"}, {"size", "64"}}, 400, "size", "invalid_value"},
      {{{"prompt", "x"}, {"size", "64x64x64"}}, 400, "size", "invalid_value"},
      {{{"prompt", "x"}, {"size", "99999999x64"}}, 400, "size", "invalid_value"},
      {{{"prompt", "x"}, {"size", "4096x64"}}, 400, "size", "invalid_value"},
      {{{"prompt", "x"}, {"size", "60x64"}}, 400, "size", "invalid_value"},
      {{{"prompt", "x"}, {"model", "dall-e-3"}}, 404, "model", "model_not_found"},
      {{{"prompt", "x"}, {"response_format", "png"}}, 400, "response_format", "invalid_value"},
      {{{"prompt", "x"}, {"output_format", "gif"}}, 400, "output_format", "invalid_value"},
      {{{"prompt", "x"}, {"output_compression", 101}}, 400, "output_compression", "invalid_value"},
      {{{"prompt", "x"}, {"quality", "ultra"}}, 400, "quality", "invalid_value"},
      {{{"prompt", "x"}, {"background", "transparent"}}, 400, "background", "invalid_value"},
      {{{"prompt", "x"}, {"stream", true}}, 400, "stream", "invalid_value"},
      {{{"prompt", "x"}, {"stream", "no"}}, 400, "stream", "invalid_type"},
      {{{"prompt", "x"}, {"strength", 0.5}}, 400, "strength", "unknown_parameter"},
      {{{"prompt", "x"}, {"steps", 0}}, 400, "steps", "invalid_value"},
      {{{"prompt", "x"}, {"guidance_scale", "high"}}, 400, "guidance_scale", "invalid_value"},
      {{{"prompt", "x"}, {"schedule", "sideways"}}, 400, "schedule", "invalid_value"},
      {json::array({1}), 400, "", "invalid_value"},
  };
  for (const auto& c : cases) {
    OpenAiError e = error_of_generation(c.body);
    EXPECT_EQ(e.status, c.status) << c.body << ": " << e.message;
    EXPECT_EQ(e.param, c.param) << c.body << ": " << e.message;
    EXPECT_EQ(e.code, c.code) << c.body << ": " << e.message;
    EXPECT_EQ(e.type, "invalid_request_error") << c.body;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(OpenAiRequest, EditWithoutMaskIsImg2ImgWithTypedTextFields) {
  const std::string image = png_bytes(80, 64, 3, 0, 0);
  std::vector<io::FormPart> parts = {file_part("image", image), text_part("prompt", "a cat"),
                                     text_part("n", "2"),          text_part("strength", "0.25"),
                                     text_part("steps", "8"),      text_part("seed", "5"),
                                     text_part("stream", "false"), text_part("response_format", "url")};
  auto req = parse_openai_edit(parts, "tiny-sd15", tiny_model().limits);
  EXPECT_EQ(req.n, 2);
  EXPECT_EQ(req.response_format, ImageResponseFormat::Url);
  EXPECT_EQ(req.job["operation"], "image_transform");
  EXPECT_EQ(req.job["strength"], 0.25);
  EXPECT_EQ(req.job["steps"], 8);
  JobSpec spec = openai_job_spec(req, tiny_model(), RequestPolicy{});
  EXPECT_EQ(spec.request.operation, pipeline::Operation::Img2Img);
  EXPECT_EQ(spec.request.width, 80);  // the input's size
  EXPECT_EQ(spec.request.strength, 0.25);
  ASSERT_TRUE(spec.request.init_image);
  EXPECT_EQ(spec.request.init_image->width, 80);
}

TEST(OpenAiRequest, TransparentMaskAreaIsWhatGetsRepainted) {
  const std::string image = png_bytes(64, 64, 3, 0, 0);
  const std::string mask = png_bytes(64, 64, 4, 0, 255);  // left half transparent
  auto req = parse_openai_edit({file_part("image[]", image), file_part("mask", mask), text_part("prompt", "a cat")},
                               "tiny-sd15", tiny_model().limits);
  EXPECT_EQ(req.job["operation"], "image_inpaint");
  JobSpec spec = openai_job_spec(req, tiny_model(), RequestPolicy{});
  ASSERT_TRUE(spec.request.mask_image);
  const io::Image& m = *spec.request.mask_image;
  EXPECT_EQ(m.channels, 1);
  EXPECT_EQ(m.at(0, 0, 0), 255);
  EXPECT_EQ(m.at(31, 63, 0), 255);
  EXPECT_EQ(m.at(32, 0, 0), 0);
  EXPECT_EQ(m.at(63, 63, 0), 0);
}

TEST(OpenAiRequest, EditRefusals) {
  const std::string image = png_bytes(64, 64, 3, 0, 0);
  const std::string opaque = png_bytes(64, 64, 4, 255, 255);
  const std::string rgb_mask = png_bytes(64, 64, 3, 0, 0);
  const std::string other_size = png_bytes(32, 64, 4, 0, 0);
  auto param_of = [](const std::vector<io::FormPart>& parts) {
    try {
      auto req = parse_openai_edit(parts, "tiny-sd15", tiny_model().limits);
      openai_job_spec(req, tiny_model(), RequestPolicy{});
    } catch (const OpenAiRequestError& e) {
      EXPECT_EQ(e.error().status, 400) << e.what();
      return e.error().param + " (" + e.error().code + ")";
    }
    return std::string("(no error)");
  };
  const auto prompt = text_part("prompt", "x");
  EXPECT_EQ(param_of({prompt}), "image (missing_required_parameter)");
  EXPECT_EQ(param_of({file_part("image", image), file_part("image[]", image), prompt}), "image (invalid_value)");
  EXPECT_EQ(param_of({file_part("image", "GIF89a"), prompt}), "image (invalid_value)");
  EXPECT_EQ(param_of({file_part("image", image), file_part("mask", opaque), prompt}), "mask (invalid_value)");
  EXPECT_EQ(param_of({file_part("image", image), file_part("mask", rgb_mask), prompt}), "mask (invalid_value)");
  EXPECT_EQ(param_of({file_part("image", image), file_part("mask", other_size), prompt}), "mask (invalid_value)");
  EXPECT_EQ(param_of({file_part("image", image), file_part("mask", image), file_part("mask", image), prompt}),
            "mask (invalid_value)");
  EXPECT_EQ(param_of({file_part("image", image), prompt, text_part("n", "two")}), "n (invalid_type)");
  EXPECT_EQ(param_of({file_part("image", image), prompt, text_part("n", "1.5")}), "n (invalid_type)");
  EXPECT_EQ(param_of({file_part("image", image), prompt, text_part("stream", "yes")}), "stream (invalid_type)");
  EXPECT_EQ(param_of({file_part("image", image), prompt, text_part("prompt", "y")}), "prompt (invalid_value)");
  EXPECT_EQ(param_of({file_part("image", image), prompt, text_part("style", "vivid")}), "style (unknown_parameter)");
  EXPECT_EQ(param_of({file_part("image", image), prompt, text_part("strength", "2")}), "strength (invalid_value)");
}

TEST(OpenAiRequest, ModelIdFromTheWorkerFlags) {
  EXPECT_EQ(openai_model_id("stabilityai/sdxl-turbo", "", ""), "stabilityai/sdxl-turbo");
  EXPECT_EQ(openai_model_id("v1-5", "/srv/models/sd15", "v1-5"), "v1-5");
  EXPECT_EQ(openai_model_id("", "/srv/models/stable-diffusion-v1-5/", "v1-5"), "stable-diffusion-v1-5");
  EXPECT_EQ(openai_model_id("", "/srv/models/dreamshaper_8.safetensors", ""), "dreamshaper_8");
  EXPECT_EQ(openai_model_id("/srv/models/x", "", ""), "x");
  EXPECT_EQ(openai_model_id("", "", "xl"), "xl");
}

}  // namespace
}  // namespace sd::server
