// TAESD against the upstream reference model: the real FLUX.2 tiny autoencoder weights
// (taef2, fp16, the only TAESD-family weights available here) must reproduce the
// encoder latent and decoded image that madebyollin's taesd.py computed in float32.
// No SD (4-channel) TAESD weights are available: the SD configs are checked for
// structure only, with seeded random weights.
#include "models/taesd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "loaders/random_weights.h"
#include "support/test_support.h"

namespace sd::models {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

std::string taesd_data(const std::string& file) { return test::data_dir() + "/taesd/" + file; }
std::string encoder_path() { return taesd_data("taef2_encoder.safetensors"); }
std::string decoder_path() { return taesd_data("taef2_decoder.safetensors"); }

io::SafetensorsFile reference() {
  return io::SafetensorsFile::open(taesd_data("taef2_roundtrip_ref_fp32.safetensors"));
}

// Differences between two float32 evaluations of the same network come only from the
// order of summation inside the convolutions (oneDNN here, torch's CPU kernels for the
// reference). Measured: 8.6e-7 (encoder) and 7.5e-7 (decoder) of the reference's largest
// value. The weights are fp16 in both, converted exactly to float32, so they add no
// difference. 2e-5 of the largest value leaves a factor of 20 for other CPUs and thread
// counts and still fails on any structural mistake (a missing block, pool branch, clamp
// or ReLU moves values by 1e-2 or more). It is not fine enough to tell the pool
// GroupNorm's eps 1e-5 from 1e-6 (8e-6 relative): that constant is upstream's default.
double tolerance(const Tensor& ref) { return 2e-5 * test::max_abs(ref); }

NamedTensors all_tensors(const io::SafetensorsFile& f) {
  NamedTensors out;
  for (const auto& name : f.names()) out.emplace_back(name, f.view(name));
  return out;
}

std::string write_tensors(const std::string& dir, const std::string& file, const NamedTensors& tensors) {
  const std::string path = dir + "/" + file;
  io::write_safetensors(path, tensors);
  return path;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// "<N>.rest" -> "<prefix><N + shift>.rest"
NamedTensors renamed(const io::SafetensorsFile& f, const std::string& prefix, int shift) {
  NamedTensors out;
  for (const auto& name : f.names()) {
    const size_t dot = name.find('.');
    out.emplace_back(prefix + std::to_string(std::stoi(name.substr(0, dot)) + shift) + name.substr(dot), f.view(name));
  }
  return out;
}

// A diffusers AutoencoderTiny folder holding the taef2 weights under diffusers names:
// the published SD TAESD config with FLUX.2's 32 latent channels.
std::string diffusers_taef2_folder() {
  const std::string dir = test::temp_dir("taesd-diffusers");
  io::Json config = io::read_json_file(test::data_dir() + "/model-configs/madebyollin__taesd/config.json");
  config["latent_channels"] = 32;
  write_text(dir + "/config.json", config.dump(2));
  NamedTensors tensors = renamed(io::SafetensorsFile::open(encoder_path()), "encoder.layers.", 0);
  for (auto& t : renamed(io::SafetensorsFile::open(decoder_path()), "decoder.layers.", -1)) tensors.push_back(t);
  write_tensors(dir, "diffusion_pytorch_model.safetensors", tensors);
  return dir;
}

// The taef2 decoder file changed by `edit` (which may add, drop or replace tensors).
template <class Edit>
std::string edited_decoder(Edit edit) {
  NamedTensors tensors = all_tensors(io::SafetensorsFile::open(decoder_path()));
  edit(tensors);
  return write_tensors(test::temp_dir("taesd-edited"), "decoder.safetensors", tensors);
}

Tensor& tensor_named(NamedTensors& tensors, const std::string& name) {
  for (auto& [n, t] : tensors)
    if (n == name) return t;
  throw Error("test: no tensor " + name);
}

Tensor affine(const Tensor& x, float a, float b) {
  Tensor y = x.contiguous().clone();
  for (float *p = y.data<float>(), *e = p + y.numel(); p != e; ++p) *p = *p * a + b;
  return y;
}

TEST(TaesdTaef2, ConfigIsReadOffTheBareFiles) {
  SD_SKIP_WITHOUT_DATA("taesd");
  const auto taesd = Taesd::load_bare(encoder_path(), decoder_path());
  const TaesdConfig& c = taesd->config();
  EXPECT_EQ(c.latent_channels, 32);
  EXPECT_EQ(c.in_channels, 3);
  EXPECT_EQ(c.out_channels, 3);
  EXPECT_EQ(c.num_encoder_blocks, (std::vector<int>{1, 3, 3, 3}));
  EXPECT_EQ(c.num_decoder_blocks, (std::vector<int>{3, 3, 3, 1}));
  EXPECT_EQ(c.encoder_block_out_channels, (std::vector<int>{64, 64, 64, 64}));
  EXPECT_EQ(c.decoder_block_out_channels, (std::vector<int>{64, 64, 64, 64}));
  EXPECT_TRUE(c.use_midblock_gn);
  EXPECT_EQ(taesd->scale_factor(), 8);
  EXPECT_FLOAT_EQ(taesd->scaling_factor(), 1.0f);
}

TEST(TaesdTaef2, EncoderMatchesUpstream) {
  SD_SKIP_WITHOUT_DATA("taesd");
  const auto ref = reference();
  const auto taesd = Taesd::load(encoder_path());
  ASSERT_TRUE(taesd->has_encoder());
  EXPECT_FALSE(taesd->has_decoder());
  const Tensor want = ref.view("latent");
  EXPECT_TRUE(test::tensors_close(taesd->encoder().forward(ref.view("image")), want, tolerance(want)));
}

TEST(TaesdTaef2, DecoderMatchesUpstream) {
  SD_SKIP_WITHOUT_DATA("taesd");
  const auto ref = reference();
  const auto taesd = Taesd::load(decoder_path());
  ASSERT_TRUE(taesd->has_decoder());
  EXPECT_FALSE(taesd->has_encoder());
  EXPECT_THROW(taesd->encoder(), Error);
  const Tensor want = ref.view("decoded");
  const Tensor got = taesd->decoder().forward(ref.view("latent"));
  EXPECT_TRUE(got.is_contiguous());
  EXPECT_TRUE(test::tensors_close(got, want, tolerance(want)));
}

// diffusers' AutoencoderTiny takes and returns images in [-1,1]; the latents are the same.
TEST(TaesdTaef2, DiffusersConventionsAreTheUpstreamOnesRescaled) {
  SD_SKIP_WITHOUT_DATA("taesd");
  const auto ref = reference();
  const auto taesd = Taesd::load_bare(encoder_path(), decoder_path());
  const Tensor image01 = ref.view("image");
  const Tensor latent = taesd->encode(affine(image01, 2.f, -1.f));
  EXPECT_TRUE(test::tensors_close(latent, taesd->encoder().forward(image01), 1e-5 * test::max_abs(latent)));
  const Tensor decoded = taesd->decode(ref.view("latent"));
  const Tensor want = affine(ref.view("decoded"), 2.f, -1.f);
  EXPECT_TRUE(test::tensors_close(decoded, want, tolerance(want)));
}

TEST(TaesdTaef2, DiffusersLayoutGivesTheSameModel) {
  SD_SKIP_WITHOUT_DATA("taesd");
  SD_SKIP_WITHOUT_DATA("model-configs/madebyollin__taesd");
  const auto ref = reference();
  const auto bare = Taesd::load_bare(encoder_path(), decoder_path());
  const auto diffusers = Taesd::load(diffusers_taef2_folder());
  EXPECT_TRUE(diffusers->config().use_midblock_gn);  // found in the weights, not the config
  ASSERT_TRUE(diffusers->has_encoder() && diffusers->has_decoder());
  EXPECT_EQ(test::max_abs_diff(diffusers->decode(ref.view("latent")), bare->decode(ref.view("latent"))), 0.0);
  EXPECT_EQ(
      test::max_abs_diff(diffusers->encoder().forward(ref.view("image")), bare->encoder().forward(ref.view("image"))),
      0.0);
}

TEST(TaesdTaef2, Bf16StaysCloseToF32) {
  SD_SKIP_WITHOUT_DATA("taesd");
  const auto ref = reference();
  const Tensor latent = ref.view("latent");
  const Tensor f32 = Taesd::load(decoder_path(), DType::F32)->decoder().forward(latent);
  const Tensor bf16 = Taesd::load(decoder_path(), DType::BF16)->decoder().forward(latent);
  ASSERT_EQ(bf16.dtype(), DType::F32);
  // PSNR over the [0,1] image (measured: 55 dB); bf16 weights and activations keep 8
  // mantissa bits, and a structural bf16 problem would drop it far below.
  const double psnr = test::psnr(bf16, f32, 1.0);
  EXPECT_GT(psnr, 45.0) << "PSNR " << psnr << " dB";
}

TEST(TaesdConfig, PublishedSdConfigsParse) {
  SD_SKIP_WITHOUT_DATA("model-configs/madebyollin__taesd");
  for (const char* name : {"madebyollin__taesd", "madebyollin__taesdxl"}) {
    const auto c = TaesdConfig::load(test::data_dir() + "/model-configs/" + name + "/config.json");
    EXPECT_EQ(c.latent_channels, 4) << name;
    EXPECT_EQ(c.decoder_scale_factor(), 8) << name;
    EXPECT_EQ(c.encoder_scale_factor(), 8) << name;
    EXPECT_FLOAT_EQ(c.scaling_factor, 1.0f) << name;
    EXPECT_FALSE(c.use_midblock_gn) << name;
  }
}

// The SD TAESD structure (defaults = madebyollin/taesd's config) with random weights: the
// shapes only, as no SD TAESD weights are available to compare values with.
TEST(TaesdConfig, SdStructureWithRandomWeights) {
  const Taesd taesd(TaesdConfig{}, RandomWeights(7));
  const Tensor image = taesd.decode(Tensor::zeros(Shape{1, 4, 5, 7}, DType::F32));
  EXPECT_EQ(image.shape(), (Shape{1, 3, 40, 56}));
  EXPECT_EQ(taesd.encode(Tensor::zeros(Shape{1, 3, 40, 56}, DType::F32)).shape(), (Shape{1, 4, 5, 7}));
  EXPECT_THROW(taesd.decode(Tensor::zeros(Shape{1, 16, 5, 7}, DType::F32)), Error);
  EXPECT_THROW(taesd.encode(Tensor::zeros(Shape{1, 4, 40, 56}, DType::F32)), Error);
}

TEST(TaesdConfig, RejectsWhatAutoencoderTinyCannotBe) {
  const auto parse = [](const char* text) {
    return TaesdConfig::parse(io::parse_json_text(text, "config.json"), "config.json");
  };
  EXPECT_NO_THROW(parse(R"({"_class_name": "AutoencoderTiny", "shift_factor": 0.0})"));
  EXPECT_NE(error_of([&] { parse(R"({"_class_name": "AutoencoderKL"})"); }).find("_class_name"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"act_fn": "silu"})"); }).find("act_fn"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"upsample_fn": "bilinear"})"); }).find("upsample_fn"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"upsampling_scaling_factor": 4})"); }).find("upsampling_scaling_factor"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"shift_factor": 0.5})"); }).find("shift_factor"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"decoder_block_out_channels": [64, 32, 64, 64]})"); }).find("entries differ"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"num_decoder_blocks": [3, 3]})"); }).find("same length"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"latent_channels": 0})"); }).find("latent_channels"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"({"scaling_factor": -1})"); }).find("scaling_factor"), std::string::npos);
  EXPECT_NE(error_of([&] { parse(R"([1, 2])"); }).find("not a JSON object"), std::string::npos);
}

TEST(TaesdLoad, MissingAndForeignFilesGiveClearErrors) {
  const std::string dir = test::temp_dir("taesd-hostile");
  EXPECT_NE(error_of([&] { Taesd::load(dir + "/nothing.safetensors"); }).find("nothing.safetensors"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Taesd::load(dir); }).find("config.json"), std::string::npos);

  write_text(dir + "/garbage.safetensors", "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": [1, 2, 3]}");
  EXPECT_NE(error_of([&] { Taesd::load(dir + "/garbage.safetensors"); }).find("garbage.safetensors"),
            std::string::npos);

  // Some other model's weights: the tiny SD VAE.
  const std::string vae = test::fixtures_dir() + "/tiny-sd15/vae/diffusion_pytorch_model.safetensors";
  EXPECT_NE(error_of([&] { Taesd::load(vae); }).find("not a taesd_decoder file"), std::string::npos);

  // A diffusers-named weight file given without its folder.
  write_tensors(dir, "loose.safetensors", {{"decoder.layers.0.weight", Tensor::zeros(Shape{64, 4, 3, 3}, DType::F32)}});
  EXPECT_NE(error_of([&] { Taesd::load(dir + "/loose.safetensors"); }).find("give the folder"), std::string::npos);

  // A folder whose config is not an AutoencoderTiny.
  const std::string folder = test::temp_dir("taesd-folder");
  write_text(folder + "/config.json", R"({"_class_name": "AutoencoderKL"})");
  EXPECT_NE(error_of([&] { Taesd::load(folder); }).find("AutoencoderKL"), std::string::npos);
  write_text(folder + "/config.json", R"({"_class_name": "AutoencoderTiny"})");
  EXPECT_NE(error_of([&] { Taesd::load(folder); }).find("no weights found"), std::string::npos);
}

TEST(TaesdLoad, DamagedTaef2DecoderGivesClearErrors) {
  SD_SKIP_WITHOUT_DATA("taesd");
  const std::string missing = edited_decoder(
      [](NamedTensors& t) { std::erase_if(t, [](const auto& e) { return e.first == "4.pool.1.bias"; }); });
  EXPECT_NE(error_of([&] { Taesd::load(missing); }).find("\"4.pool.1.bias\""), std::string::npos);

  const std::string extra = edited_decoder([](NamedTensors& t) {
    t.emplace_back("9.skip.weight", Tensor::zeros(Shape{64, 64, 1, 1}, DType::F32));
  });
  EXPECT_NE(error_of([&] { Taesd::load(extra); }).find("9.skip.weight"), std::string::npos);

  const std::string reshaped = edited_decoder([](NamedTensors& t) {
    tensor_named(t, "8.conv.2.weight") = Tensor::zeros(Shape{64, 64, 1, 1}, DType::F32);
  });
  EXPECT_NE(error_of([&] { Taesd::load(reshaped); }).find("8.conv.2.weight"), std::string::npos);

  const std::string flat = edited_decoder([](NamedTensors& t) {
    tensor_named(t, "1.weight") = Tensor::zeros(Shape{64, 288}, DType::F32);
  });
  EXPECT_NE(error_of([&] { Taesd::load(flat); }).find("3x3 convolution"), std::string::npos);

  const std::string no_output = edited_decoder(
      [](NamedTensors& t) { std::erase_if(t, [](const auto& e) { return e.first.rfind("19.", 0) == 0; }); });
  EXPECT_NE(error_of([&] { Taesd::load(no_output); }).find("layer 19"), std::string::npos);

  // A 4-channel decoder paired with the 32-channel encoder.
  const std::string four = edited_decoder([](NamedTensors& t) {
    Tensor& w = tensor_named(t, "1.weight");
    w = w.narrow(1, 0, 4).contiguous();
  });
  EXPECT_NE(error_of([&] { Taesd::load_bare(encoder_path(), four); }).find("latent channels"), std::string::npos);
}

}  // namespace
}  // namespace sd::models
