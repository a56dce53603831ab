// sd-generate with what a lone model needs: no tokenizer folder (the CLIP vocabulary built
// into the binary), and LoRAs named by <lora:NAME:WEIGHT> tags in the prompt.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "apps/usage_error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

namespace fs = std::filesystem;

std::string tiny_folder() { return test::fixtures_dir() + "/tiny-sd15"; }
std::string single_file() { return test::fixtures_dir() + "/tiny-sd15-single-file.safetensors"; }

// A DDIM txt2img call on the tiny model with no --tokenizer-dir; `extra` names the model
// and anything else.
std::vector<std::string> call(const std::vector<std::string>& extra, const std::string& output,
                              const std::string& prompt = "a photo of a cat") {
  std::vector<std::string> args = {test::bin_dir() + "/sd-generate"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--prompt", prompt, "--steps", "4", "--guidance", "7.5", "--seed", "42", "--width", "64",
                           "--height", "64", "--sampler", "ddim", "--dtype", "f32", "--output", output});
  return args;
}

io::Image read_image(const std::string& path) {
  const std::string bytes = test::read_file(path);
  return io::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Diffusers' 8-bit image (made with the real CLIP vocabulary) within one level.
::testing::AssertionResult matches_reference(const io::Image& got, const std::string& reference_file,
                                             const std::string& key) {
  const auto ref = io::SafetensorsFile::open(reference_file);
  const Tensor want = ref.view(key);
  if (got.pixels.size() != size_t(want.numel()))
    return ::testing::AssertionFailure() << got.pixels.size() << " values, the reference has " << want.numel();
  int worst = 0;
  for (size_t i = 0; i < got.pixels.size(); ++i)
    worst = std::max(worst, std::abs(int(got.pixels[i]) - int(want.data<uint8_t>()[i])));
  if (worst <= 1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "worst difference " << worst << " levels";
}

std::string tiny_reference() { return tiny_folder() + "/reference.safetensors"; }

TEST(SdGenerateLoading, FolderWithoutVocabularyUsesTheBuiltInOne) {
  const std::string folder = test::model_without_vocabulary("tiny-sd15");
  ASSERT_FALSE(fs::exists(folder + "/tokenizer/vocab.json"));
  const std::string png = test::temp_dir("sdgen-builtin-vocab") + "/x.png";
  const auto r = test::run_process(call({"--model-path", folder}, png));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(matches_reference(read_image(png), tiny_reference(), "t2i.ddim.image_u8"));
}

TEST(SdGenerateLoading, BuiltInVocabularyGivesTheSharedVocabularysImage) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-vocab-same");
  const auto builtin =
      test::run_process(call({"--model-path", test::model_without_vocabulary("tiny-sd15")}, dir + "/builtin.png"));
  ASSERT_EQ(builtin.exit_code, 0) << builtin.err;
  const auto shared = test::run_process(
      call({"--model-path", tiny_folder(), "--tokenizer-dir", test::data_dir() + "/clip"}, dir + "/shared.png"));
  ASSERT_EQ(shared.exit_code, 0) << shared.err;
  EXPECT_EQ(read_image(dir + "/builtin.png").pixels, read_image(dir + "/shared.png").pixels);
}

TEST(SdGenerateLoading, SingleFileNeedsNoTokenizerFolder) {
  // --config gives the tiny model's dimensions, which no SD version has; its tokenizer/
  // folder has no vocabulary, so the built-in one is used.
  const std::string png = test::temp_dir("sdgen-single-builtin") + "/x.png";
  const auto r = test::run_process(
      call({"--model-path", single_file(), "--config", test::model_without_vocabulary("tiny-sd15")}, png));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(matches_reference(read_image(png), tiny_reference(), "t2i.ddim.image_u8"));
}

TEST(SdGenerateLoading, LoraTagGivesTheImageOfTheLoraFlag) {
  const std::string dir = test::temp_dir("sdgen-lora-tag");
  const std::string lora_file = test::fixtures_dir() + "/tiny-lora-sd15.safetensors";
  const auto flag = test::run_process(call({"--model-path", tiny_folder(), "--lora", lora_file + ":0.8"}, dir + "/flag.png"));
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  const auto tag = test::run_process(call({"--model-path", tiny_folder(), "--lora-dir", test::fixtures_dir()},
                                          dir + "/tag.png", "a photo of <lora:tiny-lora-sd15:0.8>a cat"));
  ASSERT_EQ(tag.exit_code, 0) << tag.err;
  const io::Image tagged = read_image(dir + "/tag.png");
  EXPECT_EQ(tagged.pixels, read_image(dir + "/flag.png").pixels);
  EXPECT_TRUE(matches_reference(tagged, test::fixtures_dir() + "/tiny-lora-sd15.reference.safetensors",
                                "t2i.ddim.image_u8"));
  // The tag is part of what the user wrote: the PNG's parameters keep it.
  const std::string png = test::read_file(dir + "/tag.png");
  const io::TextChunks text = io::read_png_text(reinterpret_cast<const uint8_t*>(png.data()), png.size());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text[0].second.rfind("a photo of <lora:tiny-lora-sd15:0.8>a cat\n", 0), 0u) << text[0].second;
}

// The tiny model's VAE written three ways with the same changed decoder weights: a
// diffusers folder, a stand-alone LDM-named file (as vae-ft-mse-840000-ema-pruned is),
// and that file with an unchanged copy for reference. Returns the folder.
struct VaeFiles {
  std::string folder, ldm_file, ldm_unchanged;
};

VaeFiles write_vae_files(const std::string& dir) {
  VaeFiles v{dir + "/vae-folder", dir + "/vae-ldm.safetensors", dir + "/vae-ldm-unchanged.safetensors"};
  fs::create_directory(v.folder);
  fs::copy_file(tiny_folder() + "/vae/config.json", v.folder + "/config.json");
  const auto changed = [](const Tensor& t) {
    Tensor c = t.to(DType::F32).contiguous().clone();
    for (int64_t i = 0; i < c.numel(); ++i) c.data<float>()[i] += 0.25f;
    return c;
  };
  const auto diffusers = io::SafetensorsFile::open(tiny_folder() + "/vae/diffusion_pytorch_model.safetensors");
  std::vector<std::pair<std::string, Tensor>> folder_tensors;
  for (const auto& name : diffusers.names())
    folder_tensors.emplace_back(name, name == "decoder.conv_out.bias" ? changed(diffusers.view(name))
                                                                       : diffusers.view(name));
  io::write_safetensors(v.folder + "/diffusion_pytorch_model.safetensors", folder_tensors);
  // The LDM names come from the single-file checkpoint's first_stage_model.* part, plus
  // the training leftovers A1111 ignores.
  const auto checkpoint = io::SafetensorsFile::open(single_file());
  std::vector<std::pair<std::string, Tensor>> ldm, ldm_unchanged;
  const std::string prefix = "first_stage_model.";
  for (const auto& name : checkpoint.names()) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string key = name.substr(prefix.size());
    ldm.emplace_back(key, key == "decoder.conv_out.bias" ? changed(checkpoint.view(name)) : checkpoint.view(name));
    ldm_unchanged.emplace_back(key, checkpoint.view(name));
  }
  ldm.emplace_back("model_ema.decay", Tensor::from_floats({0.9999f}, {1}));
  ldm.emplace_back("loss.logvar", Tensor::from_floats({0.0f}, {1}));
  io::write_safetensors(v.ldm_file, ldm);
  io::write_safetensors(v.ldm_unchanged, ldm_unchanged);
  return v;
}

TEST(SdGenerateLoading, VaeReplacesTheModelsVae) {
  const std::string dir = test::temp_dir("sdgen-vae");
  const VaeFiles vae = write_vae_files(dir);
  const auto run = [&](const std::vector<std::string>& extra, const std::string& name) {
    std::vector<std::string> model = {"--model-path", tiny_folder()};
    model.insert(model.end(), extra.begin(), extra.end());
    const auto r = test::run_process(call(model, dir + "/" + name));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_image(dir + "/" + name).pixels;
  };
  const auto own = run({}, "own.png");
  const auto folder = run({"--vae", vae.folder}, "folder.png");
  const auto ldm = run({"--vae", vae.ldm_file}, "ldm.png");
  const auto unchanged = run({"--vae", vae.ldm_unchanged}, "unchanged.png");
  EXPECT_NE(folder, own);
  EXPECT_EQ(ldm, folder);  // the same VAE in either naming gives the same image
  EXPECT_EQ(unchanged, own);
  // A1111's "VAE" field names the replacement by its file name, never its path.
  const auto parameters = [&](const std::string& name) {
    const std::string png = test::read_file(dir + "/" + name);
    const io::TextChunks text = io::read_png_text(reinterpret_cast<const uint8_t*>(png.data()), png.size());
    return text.empty() ? std::string() : text[0].second;
  };
  const std::string ldm_name = fs::path(vae.ldm_file).filename().string();
  EXPECT_NE(parameters("ldm.png").find(", VAE: " + ldm_name), std::string::npos) << parameters("ldm.png");
  EXPECT_EQ(parameters("ldm.png").find(dir), std::string::npos) << parameters("ldm.png");
  EXPECT_EQ(parameters("own.png").find("VAE:"), std::string::npos) << parameters("own.png");
}

TEST(SdGenerateLoading, VaeThatIsNoVaeIsRefused) {
  const std::string dir = test::temp_dir("sdgen-bad-vae");
  const auto r = test::run_process(
      call({"--model-path", tiny_folder(), "--vae", test::fixtures_dir() + "/tiny-lora-sd15.safetensors"},
           dir + "/x.png"));
  // Found while loading, after the loader's progress lines: exit code 2, the reason last.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("sd-generate: --vae: " + test::fixtures_dir() + "/tiny-lora-sd15.safetensors: no VAE in it"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir + "/x.png"));
}

// An embedding whose one vector is the token embedding of "cat" makes "mycat" draw
// exactly what "cat" draws.
TEST(SdGenerateLoading, EmbeddingNameInThePromptUsesItsVectors) {
  const std::string dir = test::temp_dir("sdgen-embedding");
  fs::create_directory(dir + "/embeddings");
  const auto te = io::SafetensorsFile::open(tiny_folder() + "/text_encoder/model.safetensors");
  const int64_t cat_id = 2368;  // "cat</w>", tokenizer_vectors.json
  const Tensor cat = te.view("text_model.embeddings.token_embedding.weight").narrow(0, cat_id, 1).contiguous();
  io::write_safetensors(dir + "/embeddings/mycat.safetensors", {{"emb_params", cat}});

  const auto run = [&](const std::string& prompt, bool embeddings, const std::string& name) {
    std::vector<std::string> extra = {"--model-path", tiny_folder()};
    if (embeddings) extra.insert(extra.end(), {"--embeddings-dir", dir + "/embeddings"});
    const auto r = test::run_process(call(extra, dir + "/" + name, prompt));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_image(dir + "/" + name).pixels;
  };
  const auto word = run("a photo of a cat", false, "word.png");
  EXPECT_EQ(run("a photo of a mycat", true, "embedding.png"), word);
  EXPECT_EQ(run("a photo of a (mycat:1.0)", true, "weighted.png"), word);
  EXPECT_NE(run("a photo of a mycat", false, "plain.png"), word);
}

struct BadTag {
  const char* name;
  const char* prompt;
  const char* mentions;
};

class SdGenerateBadLoraTag : public ::testing::TestWithParam<BadTag> {};

TEST_P(SdGenerateBadLoraTag, OneLineAndExitCode2) {
  const BadTag& c = GetParam();
  const std::string dir = test::temp_dir("sdgen-bad-tag");
  // A link in the LoRA folder to a file outside it is no way out either.
  fs::create_directory(dir + "/loras");
  fs::create_symlink(test::fixtures_dir() + "/tiny-lora-sd15.safetensors", dir + "/loras/outside.safetensors");
  const auto r =
      test::run_process(call({"--model-path", tiny_folder(), "--lora-dir", dir + "/loras"}, dir + "/x.png", c.prompt));
  test::expect_usage_error(r, c.mentions, dir + "/x.png");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SdGenerateBadLoraTag,
    ::testing::Values(BadTag{"missing", "a cat <lora:no-such-lora:0.5>", "no LoRA file \"no-such-lora\""},
                      BadTag{"traversal", "a cat <lora:../../tiny-lora-sd15:1>", "no LoRA file \"../../tiny-lora-sd15\""},
                      BadTag{"absolute", "a cat <lora:/etc/passwd:1>", "no LoRA file \"/etc/passwd\""},
                      BadTag{"symlink_out", "a cat <lora:outside:1>", "no LoRA file \"outside\""},
                      BadTag{"bad_weight", "a cat <lora:outside:heavy>", "the weight must be a number"},
                      BadTag{"weight_out_of_range", "a cat <lora:outside:11>", "within -10..10"},
                      BadTag{"two_weights", "a cat <lora:outside:1:0.5>", "separate text-encoder and UNet"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sd
