#pragma once
// The tiny-sd15 fixture as a diffusers repository for the fake Hub (fake_hub.h), shared by
// the Hub download tests (test_io) and the Hub model loading tests (test_pipeline).
#include <string>
#include <vector>

#include "support/fake_hub.h"
#include "support/test_support.h"

namespace sd::test {

constexpr const char* kTinySd15Commit = "0123456789abcdef0123456789abcdef01234567";

// tiny-sd15's files with the given tokenizer vocabulary, plus files a real SD repository
// also holds that the engine must not fetch. The callers add the fp16 variant and any
// other such files: a download test needs only bytes, a loading test a model that works.
inline FakeRepo tiny_sd15_repo(const std::string& vocab_json, const std::string& merges_txt) {
  const std::string fx = fixtures_dir() + "/tiny-sd15/";
  auto git = [](std::string content) { return FakeFile{std::move(content), false, ""}; };
  auto lfs = [](std::string content) { return FakeFile{std::move(content), true, ""}; };
  FakeRepo r;
  r.commit = kTinySd15Commit;
  for (const char* name : {"model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
                           "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json",
                           "unet/config.json", "vae/config.json"})
    r.files[name] = git(read_file(fx + name));
  for (const char* name : {"text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
                           "vae/diffusion_pytorch_model.safetensors"})
    r.files[name] = lfs(read_file(fx + name));
  r.files["tokenizer/vocab.json"] = git(vocab_json);
  r.files["tokenizer/merges.txt"] = git(merges_txt);
  r.files["README.md"] = git("# tiny\n");
  r.files["safety_checker/model.safetensors"] = lfs(std::string(4000, 's'));
  r.files["v1-5-pruned-emaonly.safetensors"] = lfs(std::string(6000, 'p'));
  return r;
}

// The files of tiny_sd15_repo() the engine fetches for a full-precision load, sorted.
inline std::vector<std::string> tiny_sd15_needed_files() {
  return {"model_index.json",
          "scheduler/scheduler_config.json",
          "text_encoder/config.json",
          "text_encoder/model.safetensors",
          "tokenizer/merges.txt",
          "tokenizer/special_tokens_map.json",
          "tokenizer/tokenizer_config.json",
          "tokenizer/vocab.json",
          "unet/config.json",
          "unet/diffusion_pytorch_model.safetensors",
          "vae/config.json",
          "vae/diffusion_pytorch_model.safetensors"};
}

}  // namespace sd::test
