// Models from the Hugging Face Hub, end to end against the loopback fake Hub
// (support/fake_hub.h) serving the tiny-sd15 fixture as a repository: Pipeline::load
// with a repo id (or a version string, whose repository the fake Hub also serves)
// fills the Hub cache with only the files needed and generates diffusers' image; a
// second load with HF_HUB_OFFLINE=1 and the server gone works from the cache.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "core/error.h"
#include "io/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/fake_hub.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"
#include "support/tiny_sd15_repo.h"

namespace sd::pipeline {
namespace {

namespace fs = std::filesystem;
using test::FakeFile;
using test::FakeHub;
using test::FakeRepo;

constexpr const char* kRepo = "test-org/tiny-sd15";
constexpr const char* kCommit = test::kTinySd15Commit;

// The fixture's UNet weights converted to float16, as a repository's fp16 variant.
std::string fp16_unet() {
  const auto f =
      io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/unet/diffusion_pytorch_model.safetensors");
  std::vector<std::pair<std::string, Tensor>> t;
  for (const auto& name : f.names()) t.emplace_back(name, f.load(name, DType::F16));
  const std::string path = test::temp_dir("hub_model_fp16") + "/unet.fp16.safetensors";
  io::write_safetensors(path, t);
  return test::read_file(path);
}

// tiny-sd15 as a diffusers repository that loads: the CLIP vocabulary and a working fp16
// variant.
FakeRepo tiny_repo() {
  const std::string clip = test::data_dir() + "/clip/";
  FakeRepo r = test::tiny_sd15_repo(test::read_file(clip + "vocab.json"), test::read_file(clip + "merges.txt"));
  r.files["unet/diffusion_pytorch_model.fp16.safetensors"] = FakeFile{fp16_unet(), true, ""};
  return r;
}

class HubModel : public ::testing::Test {
 protected:
  void SetUp() override {
    SD_SKIP_WITHOUT_DATA("clip");
    const FakeRepo repo = tiny_repo();
    hub_.emplace(std::map<std::string, FakeRepo>{{kRepo, repo}, {"stable-diffusion-v1-5/stable-diffusion-v1-5", repo}});
    home_ = test::temp_dir("hub_model");
    env_.emplace_back(std::make_unique<test::ScopedEnv>("HF_ENDPOINT", hub_->endpoint()));
    env_.emplace_back(std::make_unique<test::ScopedEnv>("HF_HOME", home_));
    env_.emplace_back(std::make_unique<test::ScopedEnv>("HF_HUB_CACHE", home_ + "/hub"));
    for (const char* unset : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                              "HUGGINGFACE_HUB_CACHE", "HF_TOKEN_PATH"})
      env_.emplace_back(std::make_unique<test::ScopedEnv>(unset, std::nullopt));
  }

  std::string snapshot(const std::string& repo) const {
    std::string folder = "models--" + repo;
    folder.replace(folder.find('/'), 1, "--");
    return home_ + "/hub/" + folder + "/snapshots/" + kCommit;
  }

  // Paths the engine fetched (HEAD/GET on resolve URLs).
  std::set<std::string> fetched() const {
    std::set<std::string> files;
    for (const auto& r : hub_->requests()) {
      const auto at = r.path.find("/resolve/");  // /{repo}/resolve/{revision}/{file}
      if (at == std::string::npos) continue;
      const auto file = r.path.find('/', at + 9);
      if (file != std::string::npos) files.insert(r.path.substr(file + 1));
    }
    return files;
  }

  std::optional<FakeHub> hub_;
  std::string home_;
  std::vector<std::unique_ptr<test::ScopedEnv>> env_;
};

TEST_F(HubModel, RepoIdDownloadsWhatIsNeededThenLoadsOfflineFromTheCache) {
  LoadOptions opt;
  opt.model = kRepo;
  opt.dtype = DType::F32;
  auto pipe = Pipeline::load(opt);
  EXPECT_EQ(pipe->info().version, "v1-5");
  EXPECT_EQ(pipe->info().model_path, snapshot(kRepo));
  const auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  test::expect_image_matches(pipe->generate(test::tiny_ddim_request(), {}).image, ref.view("t2i.ddim.image_u8"));

  const std::vector<std::string> needed = test::tiny_sd15_needed_files();
  const std::set<std::string> want(needed.begin(), needed.end());
  EXPECT_EQ(fetched(), want);  // f32 computes from the full-precision weights
  for (const auto& f : want) EXPECT_TRUE(fs::exists(snapshot(kRepo) + "/" + f)) << f;

  hub_->stop();
  test::ScopedEnv offline("HF_HUB_OFFLINE", "1");
  EXPECT_EQ(Pipeline::load(opt)->info().model_path, snapshot(kRepo));
}

TEST_F(HubModel, VersionStringFetchesItsRepository) {
  LoadOptions opt;
  opt.model = "v1-5";
  auto pipe = Pipeline::load(opt);
  EXPECT_EQ(pipe->info().version, "v1-5");
  EXPECT_TRUE(fs::exists(snapshot("stable-diffusion-v1-5/stable-diffusion-v1-5") + "/unet/config.json"));

  // --sd-version alone names the same repository, now cached.
  hub_->stop();
  test::ScopedEnv offline("HF_HUB_OFFLINE", "1");
  LoadOptions by_version;
  by_version.sd_version = "1.5";
  EXPECT_EQ(Pipeline::load(by_version)->info().version, "v1-5");
}

TEST_F(HubModel, ReducedPrecisionTakesTheFp16Variant) {
  LoadOptions opt;
  opt.model = kRepo;
  opt.dtype = DType::BF16;
  auto pipe = Pipeline::load(opt);
  const auto files = fetched();
  EXPECT_TRUE(files.count("unet/diffusion_pytorch_model.fp16.safetensors"));
  EXPECT_FALSE(files.count("unet/diffusion_pytorch_model.safetensors"));
  EXPECT_TRUE(files.count("vae/diffusion_pytorch_model.safetensors"));  // no fp16 variant: the plain weights
}

TEST_F(HubModel, OfflineWithoutACachedCopyFailsAndSaysWhy) {
  test::ScopedEnv offline("HF_HUB_OFFLINE", "1");
  LoadOptions opt;
  opt.model = kRepo;
  try {
    Pipeline::load(opt);
    FAIL() << "loaded without a cache";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("offline"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(hub_->requests().empty());
}

}  // namespace
}  // namespace sd::pipeline
