// Hub download and cache against a fake Hub on loopback (fake_hub.h), never the internet:
// the cache layout, offline and unreachable-server reuse, resume after a dropped
// connection, 401/404 errors, the environment settings, and which files of a diffusers
// repository are fetched.
#include "io/hub.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/diffusers_files.h"
#include "io/safetensors.h"
#include "support/fake_hub.h"
#include "support/test_support.h"
#include "support/tiny_sd15_repo.h"

namespace sd::io {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::FakeFile;
using test::FakeHub;
using test::FakeRepo;
using test::read_file;

constexpr const char* kRepo = "test-org/tiny-sd";
constexpr const char* kCommit = test::kTinySd15Commit;

// tiny-sd15 as a diffusers repository with placeholder tokenizer files (a download needs
// only bytes) and more of what a real SD repository holds and the engine must not fetch.
FakeRepo tiny_sd_repo() {
  FakeRepo r = test::tiny_sd15_repo("{\"a</w>\": 0}", "#version: 0.2\n");
  auto git = [](std::string s) { return FakeFile{std::move(s), false, ""}; };
  auto lfs = [](std::string s) { return FakeFile{std::move(s), true, ""}; };
  r.files["unet/diffusion_pytorch_model.fp16.safetensors"] = lfs(std::string(3000, 'h'));
  r.files["unet/diffusion_pytorch_model.bin"] = lfs(std::string(5000, 'b'));
  r.files["unet/model.onnx"] = lfs(std::string(100, 'o'));
  r.files["text_encoder/flax_model.msgpack"] = lfs(std::string(100, 'f'));
  r.files["safety_checker/config.json"] = git("{}");
  r.files["feature_extractor/preprocessor_config.json"] = git("{}");
  return r;
}

const std::vector<std::string> kNeeded = test::tiny_sd15_needed_files();

HubOptions options(const FakeHub& hub, const std::string& cache) {
  HubOptions o;
  o.endpoint = hub.endpoint();
  o.cache_dir = cache;
  o.retry_wait_ms = 0;
  o.connect_timeout_s = 5;
  o.stall_timeout_s = 10;
  return o;
}

HubFileSelector diffusers(bool fp16) {
  return [fp16](const std::vector<std::string>& files) { return diffusers_files_needed(files, fp16, kRepo); };
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

int count_paths(const std::vector<test::SeenRequest>& seen, const std::string& prefix) {
  int n = 0;
  for (auto& s : seen) n += s.path.rfind(prefix, 0) == 0;
  return n;
}

// Sets environment variables for one test and restores them after.
class ScopedEnv {
 public:
  void set(const char* name, const char* value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    for (auto& [name, value] : saved_) {
      if (value) setenv(name.c_str(), value->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(Hub, FirstDownloadFillsTheCacheLayout) {
  FakeHub hub({{kRepo, tiny_sd_repo()}});
  const std::string cache = test::temp_dir("hub-layout");
  const std::string dir = hub_snapshot_download(kRepo, "main", diffusers(false), options(hub, cache));

  const std::string repo_dir = cache + "/models--test-org--tiny-sd";
  EXPECT_EQ(dir, repo_dir + "/snapshots/" + kCommit);
  EXPECT_EQ(read_file(repo_dir + "/refs/main"), kCommit);
  for (const std::string& name : kNeeded) {
    SCOPED_TRACE(name);
    const fs::path pointer = dir + "/" + name;
    ASSERT_TRUE(fs::is_symlink(pointer));
    const std::string etag = hub.file(kRepo, name).etag;
    std::string expected_target = "../../";  // out of snapshots/<commit>/, and of each subfolder
    for (char c : name)
      if (c == '/') expected_target += "../";
    EXPECT_EQ(fs::read_symlink(pointer).string(), expected_target + "blobs/" + etag);
    EXPECT_TRUE(fs::is_regular_file(repo_dir + "/blobs/" + etag));
    EXPECT_EQ(read_file(pointer.string()), hub.file(kRepo, name).content);
  }
  // Only those files: no .bin, fp16 variant, ONNX, Flax, safety checker or root checkpoint.
  size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) files += !fs::is_directory(e.path());
  EXPECT_EQ(files, kNeeded.size());
  for (auto& e : fs::directory_iterator(repo_dir + "/blobs"))
    EXPECT_EQ(e.path().extension(), "") << "left over: " << e.path();
  // The downloaded weights are the real thing.
  auto unet = SafetensorsFile::open(dir + "/unet/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(unet.names().size(), 304u);
  // The token is never sent (none given), large files came from the CDN.
  const auto seen = hub.requests();
  EXPECT_EQ(count_paths(seen, "/api/models/test-org/tiny-sd/revision/main"), 1);
  EXPECT_EQ(count_paths(seen, "/cdn/"), 3);  // unet, vae, text_encoder weights
}

TEST(Hub, CachedModelIsUsedOfflineUnreachableAndWithoutRefetching) {
  FakeHub hub({{kRepo, tiny_sd_repo()}});
  const std::string cache = test::temp_dir("hub-offline");
  HubOptions opt = options(hub, cache);
  const std::string dir = hub_snapshot_download(kRepo, "main", diffusers(false), opt);

  // Online again: one listing request, no file requests.
  hub.clear_requests();
  EXPECT_EQ(hub_snapshot_download(kRepo, "main", diffusers(false), opt), dir);
  EXPECT_EQ(hub.requests().size(), 1u);

  // Offline: no request at all.
  hub.clear_requests();
  HubOptions offline = opt;
  offline.offline = true;
  EXPECT_EQ(hub_snapshot_download(kRepo, "main", diffusers(false), offline), dir);
  EXPECT_EQ(hub_download(kRepo, "unet/config.json", "main", offline), dir + "/unet/config.json");
  EXPECT_TRUE(hub.requests().empty());

  // The Hub answering 503: the cache answers; a file never fetched is an error naming it.
  hub.set_unavailable(true);
  EXPECT_EQ(hub_snapshot_download(kRepo, "main", diffusers(false), opt), dir);
  EXPECT_EQ(hub_download(kRepo, "unet/config.json", "main", opt), dir + "/unet/config.json");
  std::string msg = error_of([&] { hub_download(kRepo, "unet/model.onnx", "main", opt); });
  EXPECT_HAS(msg, "unet/model.onnx");
  EXPECT_HAS(msg, "HTTP 503");
  hub.set_unavailable(false);

  // Server gone, HF_HUB_OFFLINE=1 from the environment.
  hub.stop();
  {
    ScopedEnv env;
    env.set("HF_HUB_CACHE", cache.c_str());
    env.set("HF_HUB_OFFLINE", "1");
    env.set("HF_ENDPOINT", opt.endpoint.c_str());
    HubOptions from_env = HubOptions::from_env();
    EXPECT_TRUE(from_env.offline);
    EXPECT_EQ(hub_snapshot_download(kRepo, "main", diffusers(false), from_env), dir);
  }
  // Server gone, not offline: the connection fails and the cache answers.
  EXPECT_EQ(hub_snapshot_download(kRepo, "main", diffusers(false), opt), dir);
  EXPECT_EQ(hub_download(kRepo, "vae/config.json", "main", opt), dir + "/vae/config.json");
  // What was never fetched is a clear error in both cases.
  EXPECT_HAS(error_of([&] { hub_download(kRepo, "unet/diffusion_pytorch_model.bin", "main", offline); }),
             "not in the cache");
  EXPECT_HAS(error_of([&] { hub_download(kRepo, "unet/diffusion_pytorch_model.bin", "main", opt); }),
             "the Hub cannot be reached");
  EXPECT_HAS(error_of([&] { hub_snapshot_download("test-org/other", "main", diffusers(false), offline); }),
             "offline mode (HF_HUB_OFFLINE) is on");
}

TEST(Hub, Fp16VariantIsFetchedWhenAsked) {
  FakeHub hub({{kRepo, tiny_sd_repo()}});
  const std::string dir =
      hub_snapshot_download(kRepo, "main", diffusers(true), options(hub, test::temp_dir("hub-fp16")));
  EXPECT_TRUE(fs::exists(dir + "/unet/diffusion_pytorch_model.fp16.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/unet/diffusion_pytorch_model.safetensors"));
  EXPECT_TRUE(fs::exists(dir + "/vae/diffusion_pytorch_model.safetensors"));  // no fp16 variant there
}

TEST(Hub, InterruptedDownloadResumesWithARangeRequest) {
  FakeHub hub({{kRepo, tiny_sd_repo()}});
  const std::string name = "unet/diffusion_pytorch_model.safetensors";
  const FakeFile& f = hub.file(kRepo, name);
  hub.cut_transfers(f.etag, 1);
  std::vector<HubProgress> progress;
  HubOptions opt = options(hub, test::temp_dir("hub-resume"));
  opt.progress = [&](const HubProgress& p) { progress.push_back(p); };
  const std::string path = hub_download(kRepo, name, "main", opt);
  EXPECT_EQ(read_file(path), f.content);

  std::vector<test::SeenRequest> cdn;
  for (auto& s : hub.requests())
    if (s.path == "/cdn/" + f.etag) cdn.push_back(s);
  ASSERT_EQ(cdn.size(), 2u);
  EXPECT_EQ(cdn[0].range, "");
  EXPECT_EQ(cdn[1].range, "bytes=" + std::to_string(f.content.size() / 2) + "-");
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().file, name);
  EXPECT_EQ(progress.back().done, f.content.size());
  EXPECT_EQ(progress.back().total, f.content.size());
}

TEST(Hub, InterruptedDownloadResumesOnTheNextRun) {
  FakeHub hub({{kRepo, tiny_sd_repo()}});
  const std::string name = "text_encoder/model.safetensors";
  const FakeFile& f = hub.file(kRepo, name);
  const std::string cache = test::temp_dir("hub-resume-run");
  HubOptions opt = options(hub, cache);
  opt.max_retries = 0;
  hub.cut_transfers(f.etag, 1);
  const std::string msg = error_of([&] { hub_download(kRepo, name, "main", opt); });
  EXPECT_HAS(msg, "download interrupted after " + std::to_string(f.content.size() / 2) + " of " +
                      std::to_string(f.content.size()) + " bytes");
  EXPECT_HAS(msg, "run again to resume");
  const std::string part = cache + "/models--test-org--tiny-sd/blobs/" + f.etag + ".incomplete";
  ASSERT_EQ(fs::file_size(part), f.content.size() / 2);

  hub.clear_requests();
  EXPECT_EQ(read_file(hub_download(kRepo, name, "main", opt)), f.content);
  EXPECT_FALSE(fs::exists(part));
  bool resumed = false;
  for (auto& s : hub.requests())
    if (s.path == "/cdn/" + f.etag) resumed = s.range == "bytes=" + std::to_string(f.content.size() / 2) + "-";
  EXPECT_TRUE(resumed);
}

TEST(Hub, PrivateRepoNeedsTheToken) {
  FakeRepo priv = tiny_sd_repo();
  priv.private_repo = true;
  FakeHub hub({{"test-org/private-sd", priv}});
  HubOptions opt = options(hub, test::temp_dir("hub-401"));
  auto select = [](const std::vector<std::string>& files) { return diffusers_files_needed(files, false, "p"); };

  std::string msg = error_of([&] { hub_snapshot_download("test-org/private-sd", "main", select, opt); });
  EXPECT_HAS(msg, "test-org/private-sd");
  EXPECT_HAS(msg, "401 Unauthorized");
  EXPECT_HAS(msg, "set HF_TOKEN");
  msg = error_of([&] { hub_download("test-org/private-sd", "unet/config.json", "main", opt); });
  EXPECT_HAS(msg, "test-org/private-sd: unet/config.json");
  EXPECT_HAS(msg, "401");
  opt.token = "hf_wrong";
  EXPECT_HAS(error_of([&] { hub_download("test-org/private-sd", "unet/config.json", "main", opt); }),
             "the token given (HF_TOKEN) was refused");

  opt.token = FakeHub::kToken;
  hub.clear_requests();
  const std::string dir = hub_snapshot_download("test-org/private-sd", "main", select, opt);
  EXPECT_TRUE(fs::exists(dir + "/unet/diffusion_pytorch_model.safetensors"));
  // The token goes to the Hub, never to the CDN.
  for (auto& s : hub.requests()) {
    if (s.path.rfind("/cdn/", 0) == 0) EXPECT_EQ(s.authorization, "") << s.path;
    else EXPECT_EQ(s.authorization, std::string("Bearer ") + FakeHub::kToken) << s.path;
  }
}

TEST(Hub, MissingFileRepoAndRevisionAre404Errors) {
  FakeHub hub({{kRepo, tiny_sd_repo()}});
  HubOptions opt = options(hub, test::temp_dir("hub-404"));
  std::string msg = error_of([&] { hub_download(kRepo, "unet/nope.safetensors", "main", opt); });
  EXPECT_HAS(msg, "test-org/tiny-sd: unet/nope.safetensors (revision main): file not found in the repository (404)");
  msg = error_of([&] { hub_download("test-org/absent", "model_index.json", "main", opt); });
  EXPECT_HAS(msg, "test-org/absent: model_index.json (revision main): repository not found (404)");
  msg = error_of([&] { hub_snapshot_download("test-org/absent", "main", diffusers(false), opt); });
  EXPECT_HAS(msg, "test-org/absent (revision main): repository not found (404)");
  msg = error_of([&] { hub_snapshot_download(kRepo, "v9", diffusers(false), opt); });
  EXPECT_HAS(msg, "revision not found (404)");
  // A listed file the server then does not have.
  FakeRepo listed = tiny_sd_repo();
  listed.extra_listing.push_back("unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors");
  listed.files.erase("unet/diffusion_pytorch_model.fp16.safetensors");
  FakeHub hub2({{kRepo, listed}});
  msg = error_of([&] { hub_snapshot_download(kRepo, "main", diffusers(true), options(hub2, test::temp_dir("hub-404b"))); });
  EXPECT_HAS(msg, "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors");
  EXPECT_HAS(msg, "file not found");
}

TEST(Hub, HostileNamesFromTheServerAreRefused) {
  FakeRepo evil = tiny_sd_repo();
  evil.extra_listing.push_back("../../outside.json");
  FakeHub hub({{kRepo, evil}});
  const std::string cache = test::temp_dir("hub-evil");
  auto all = [](const std::vector<std::string>& files) { return files; };
  EXPECT_HAS(error_of([&] { hub_snapshot_download(kRepo, "main", all, options(hub, cache)); }),
             "unsafe file name \"../../outside.json\"");

  FakeRepo bad_etag = tiny_sd_repo();
  bad_etag.files["model_index.json"].etag = "../../../../etc/x";
  FakeHub hub2({{kRepo, bad_etag}});
  EXPECT_HAS(error_of([&] { hub_download(kRepo, "model_index.json", "main", options(hub2, cache)); }),
             "unusable ETag");
  EXPECT_FALSE(fs::exists(fs::path(cache).parent_path() / "etc"));

  HubOptions opt = options(hub2, cache);
  EXPECT_HAS(error_of([&] { hub_download("../evil", "x", "main", opt); }), "not a Hugging Face repo id");
  EXPECT_HAS(error_of([&] { hub_download(kRepo, "/etc/passwd", "main", opt); }), "unsafe file name");
  EXPECT_HAS(error_of([&] { hub_download(kRepo, "a/../../b", "main", opt); }), "unsafe file name");
  EXPECT_HAS(error_of([&] { hub_download(kRepo, "x", "../main", opt); }), "not a usable revision");
}

TEST(HubEnv, SettingsAndPrecedence) {
  ScopedEnv env;
  for (const char* v : {"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "HF_TOKEN",
                        "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT", "HF_HUB_OFFLINE",
                        "TRANSFORMERS_OFFLINE"})
    env.set(v, nullptr);
  const std::string home = test::temp_dir("hub-env");
  env.set("HOME", home.c_str());

  HubOptions o = HubOptions::from_env();
  EXPECT_EQ(o.cache_dir, home + "/.cache/huggingface/hub");
  EXPECT_EQ(o.endpoint, "https://huggingface.co");
  EXPECT_EQ(o.token, "");
  EXPECT_FALSE(o.offline);

  env.set("XDG_CACHE_HOME", "/xdg");
  EXPECT_EQ(HubOptions::from_env().cache_dir, "/xdg/huggingface/hub");
  env.set("HF_HOME", (home + "/hf").c_str());
  EXPECT_EQ(HubOptions::from_env().cache_dir, home + "/hf/hub");
  env.set("HUGGINGFACE_HUB_CACHE", "/legacy");
  EXPECT_EQ(HubOptions::from_env().cache_dir, "/legacy");
  env.set("HF_HUB_CACHE", "/hubcache");  // HF_HUB_CACHE wins over all
  EXPECT_EQ(HubOptions::from_env().cache_dir, "/hubcache");
  env.set("HF_HUB_CACHE", "~/c");
  EXPECT_EQ(HubOptions::from_env().cache_dir, home + "/c");

  // Token: HF_TOKEN, else the token file under HF_HOME.
  fs::create_directories(home + "/hf");
  std::ofstream(home + "/hf/token") << "hf_from_file\n";
  EXPECT_EQ(HubOptions::from_env().token, "hf_from_file");
  env.set("HF_TOKEN", "hf_from_env");
  EXPECT_EQ(HubOptions::from_env().token, "hf_from_env");

  env.set("HF_ENDPOINT", "http://mirror.local:8080/");
  EXPECT_EQ(HubOptions::from_env().endpoint, "http://mirror.local:8080");

  for (const char* on : {"1", "true", "ON", "yes"}) {
    env.set("HF_HUB_OFFLINE", on);
    EXPECT_TRUE(HubOptions::from_env().offline) << on;
  }
  for (const char* off : {"0", "false", ""}) {
    env.set("HF_HUB_OFFLINE", off);
    EXPECT_FALSE(HubOptions::from_env().offline) << off;
  }
}

// A file listing modelled on stable-diffusion-v1-5 (diffusers layout plus the single-file
// checkpoints, .bin, non-EMA and fp16 variants it also holds).
const std::vector<std::string> kSd15Listing = {
    ".gitattributes", "README.md", "feature_extractor/preprocessor_config.json", "model_index.json",
    "safety_checker/config.json", "safety_checker/model.fp16.safetensors", "safety_checker/model.safetensors",
    "safety_checker/pytorch_model.bin", "scheduler/scheduler_config.json", "text_encoder/config.json",
    "text_encoder/model.fp16.safetensors", "text_encoder/model.safetensors", "text_encoder/pytorch_model.bin",
    "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json", "unet/config.json", "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.fp16.bin", "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.non_ema.bin", "unet/diffusion_pytorch_model.non_ema.safetensors",
    "unet/diffusion_pytorch_model.safetensors", "v1-5-pruned-emaonly.ckpt", "v1-5-pruned-emaonly.safetensors",
    "v1-5-pruned.safetensors", "v1-inference.yaml", "vae/config.json", "vae/diffusion_pytorch_model.bin",
    "vae/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors"};

TEST(DiffusersFiles, Sd15PlainAndFp16) {
  const std::vector<std::string> common = {"model_index.json", "scheduler/scheduler_config.json",
                                           "text_encoder/config.json", "tokenizer/merges.txt",
                                           "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json",
                                           "tokenizer/vocab.json", "unet/config.json", "vae/config.json"};
  auto with = [&](std::vector<std::string> weights) {
    weights.insert(weights.end(), common.begin(), common.end());
    std::sort(weights.begin(), weights.end());
    return weights;
  };
  EXPECT_EQ(diffusers_files_needed(kSd15Listing, false, "sd15"),
            with({"text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
                  "vae/diffusion_pytorch_model.safetensors"}));
  EXPECT_EQ(diffusers_files_needed(kSd15Listing, true, "sd15"),
            with({"text_encoder/model.fp16.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
                  "vae/diffusion_pytorch_model.fp16.safetensors"}));
}

TEST(DiffusersFiles, SdxlShardsAndFallbacks) {
  const std::vector<std::string> listing = {
      "model_index.json", "scheduler/scheduler_config.json", "sd_xl_base_1.0.safetensors",
      "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder/openvino_model.bin",
      "text_encoder_2/config.json", "text_encoder_2/model.fp16.safetensors",
      "text_encoder_2/model.safetensors.index.fp16.json", "tokenizer/vocab.json", "tokenizer_2/vocab.json",
      "unet/config.json", "unet/diffusion_pytorch_model.safetensors.index.json",
      "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
      "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
      "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
      "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
      "unet/diffusion_pytorch_model.safetensors.index.fp16.json", "vae/config.json",
      "vae/diffusion_pytorch_model.safetensors", "vae_1_0/diffusion_pytorch_model.safetensors",
      "vae_decoder/model.onnx"};
  const auto plain = diffusers_files_needed(listing, false, "sdxl");
  const std::vector<std::string> expect_plain = {
      "model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
      "text_encoder/model.safetensors", "text_encoder_2/config.json",
      "text_encoder_2/model.fp16.safetensors",  // only an fp16 variant: taken
      "text_encoder_2/model.safetensors.index.fp16.json", "tokenizer/vocab.json", "tokenizer_2/vocab.json",
      "unet/config.json", "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
      "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
      "unet/diffusion_pytorch_model.safetensors.index.json", "vae/config.json",
      "vae/diffusion_pytorch_model.safetensors"};
  EXPECT_EQ(plain, expect_plain);
  const auto fp16 = diffusers_files_needed(listing, true, "sdxl");
  EXPECT_TRUE(std::count(fp16.begin(), fp16.end(), "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors"));
  EXPECT_TRUE(std::count(fp16.begin(), fp16.end(), "unet/diffusion_pytorch_model.safetensors.index.fp16.json"));
  EXPECT_FALSE(std::count(fp16.begin(), fp16.end(), "unet/diffusion_pytorch_model-00001-of-00002.safetensors"));
}

TEST(DiffusersFiles, MissingPartsAreErrorsNamingTheRepo) {
  auto without = [](const std::string& prefix) {
    std::vector<std::string> out;
    for (auto& f : kSd15Listing)
      if (f.rfind(prefix, 0) != 0) out.push_back(f);
    return out;
  };
  EXPECT_HAS(error_of([&] { diffusers_files_needed(without("model_index"), false, "org/x"); }),
             "org/x: not a diffusers pipeline (no model_index.json)");
  EXPECT_HAS(error_of([&] { diffusers_files_needed(without("vae/"), false, "org/x"); }), "org/x: the pipeline has no vae/");
  EXPECT_HAS(error_of([&] { diffusers_files_needed(without("tokenizer/"), false, "org/x"); }),
             "text_encoder/ comes without tokenizer/");
  std::vector<std::string> bin_only;
  for (auto& f : kSd15Listing)
    if (!(f.rfind("unet/", 0) == 0 && f.find(".safetensors") != std::string::npos)) bin_only.push_back(f);
  EXPECT_HAS(error_of([&] { diffusers_files_needed(bin_only, false, "org/x"); }),
             "org/x: unet/ has no .safetensors weights");
}

TEST(HubProgressBar, ReportsEachFileOnceWhenNotATerminal) {
  auto bar = hub_stderr_progress();
  testing::internal::CaptureStderr();
  bar({"unet/a.safetensors", 0, 2 << 20});
  bar({"unet/a.safetensors", 1 << 20, 2 << 20});
  bar({"unet/a.safetensors", 2 << 20, 2 << 20});
  bar({"unet/a.safetensors", 2 << 20, 2 << 20});
  bar({"vae/b.safetensors", 1 << 20, 1 << 20});
  const std::string out = testing::internal::GetCapturedStderr();
  if (isatty(STDERR_FILENO)) GTEST_SKIP() << "stderr is a terminal";
  EXPECT_EQ(out, "downloaded unet/a.safetensors (2.0 MB)\ndownloaded vae/b.safetensors (1.0 MB)\n");
}

TEST(HubNames, RepoIdsAndCommits) {
  for (const char* ok : {"stabilityai/sd-turbo", "stable-diffusion-v1-5/stable-diffusion-v1-5", "gpt2", "a_b/c.d"})
    EXPECT_TRUE(is_valid_repo_id(ok)) << ok;
  for (const char* bad : {"", "a/b/c", "../x", "a--b/c", "a/b..c", "-a/b", "a/b-", "/a", "a/", "examples/tiny-sd15/"})
    EXPECT_FALSE(is_valid_repo_id(bad)) << bad;
  EXPECT_TRUE(is_commit_hash(kCommit));
  EXPECT_FALSE(is_commit_hash("main"));
  EXPECT_FALSE(is_commit_hash("0123456789ABCDEF0123456789abcdef01234567"));
}

}  // namespace
}  // namespace sd::io
