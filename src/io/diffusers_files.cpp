#include "io/diffusers_files.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "core/error.h"

namespace sd::io {

namespace {

const char* const kModelComponents[] = {"unet", "vae", "text_encoder", "text_encoder_2"};
const char* const kOtherComponents[] = {"tokenizer", "tokenizer_2", "scheduler"};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// "-00001-of-00002" at the end of a shard's stem.
bool has_shard_suffix(const std::string& s) {
  if (s.size() < 15) return false;
  const std::string t = s.substr(s.size() - 15);
  for (size_t i : {1, 2, 3, 4, 5, 10, 11, 12, 13, 14})
    if (t[i] < '0' || t[i] > '9') return false;
  return t[0] == '-' && t.compare(6, 4, "-of-") == 0;
}

// The variant of a safetensors weights file or index in diffusers naming ("" for plain):
//   name[.variant].safetensors, name[.variant]-00001-of-00002.safetensors,
//   name.safetensors.index[.variant].json. Not a safetensors weights file: nullopt.
std::optional<std::string> weights_variant(const std::string& file) {
  if (ends_with(file, ".safetensors")) {
    std::string stem = file.substr(0, file.size() - 12);
    if (has_shard_suffix(stem)) stem.resize(stem.size() - 15);
    const size_t dot = stem.find('.');
    return dot == std::string::npos ? std::string() : stem.substr(dot + 1);
  }
  const size_t idx = file.find(".safetensors.index");
  if (idx != std::string::npos && ends_with(file, ".json")) {
    const std::string mid = file.substr(idx + 18, file.size() - 5 - (idx + 18));  // "" or ".fp16"
    if (mid.empty()) return std::string();
    if (mid[0] == '.') return mid.substr(1);
  }
  return std::nullopt;
}

// The files directly inside `dir/` of the listing, by their names there.
std::vector<std::string> files_in(const std::vector<std::string>& repo_files, const std::string& dir) {
  std::vector<std::string> out;
  const std::string prefix = dir + "/";
  for (auto& f : repo_files)
    if (f.rfind(prefix, 0) == 0 && f.find('/', prefix.size()) == std::string::npos) out.push_back(f.substr(prefix.size()));
  return out;
}

}  // namespace

std::vector<std::string> diffusers_files_needed(const std::vector<std::string>& repo_files, bool prefer_fp16,
                                                const std::string& repo) {
  const std::set<std::string> all(repo_files.begin(), repo_files.end());
  if (!all.count("model_index.json")) throw Error(repo + ": not a diffusers pipeline (no model_index.json)");
  std::set<std::string> chosen = {"model_index.json"};

  auto has = [&](const std::string& dir) { return !files_in(repo_files, dir).empty(); };
  for (const char* required : {"unet", "vae", "scheduler"})
    if (!has(required)) throw Error(repo + ": the pipeline has no " + std::string(required) + "/ folder");
  if (!has("text_encoder") && !has("text_encoder_2")) throw Error(repo + ": the pipeline has no text encoder");
  for (auto [enc, tok] : {std::pair{"text_encoder", "tokenizer"}, std::pair{"text_encoder_2", "tokenizer_2"}})
    if (has(enc) && !has(tok)) throw Error(repo + ": " + enc + "/ comes without " + tok + "/");

  auto add_configs = [&](const std::string& dir) {
    for (auto& f : files_in(repo_files, dir))
      if ((ends_with(f, ".json") || ends_with(f, ".txt")) && f.find(".index") == std::string::npos)
        chosen.insert(dir + "/" + f);
  };
  for (const char* dir : kOtherComponents) add_configs(dir);
  for (const char* dir : kModelComponents) {
    const auto files = files_in(repo_files, dir);
    if (files.empty()) continue;
    add_configs(dir);
    if (!all.count(std::string(dir) + "/config.json")) throw Error(repo + ": " + dir + "/config.json is missing");
    std::map<std::string, std::vector<std::string>> by_variant;
    for (auto& f : files)
      if (auto v = weights_variant(f)) by_variant[*v].push_back(f);
    const char* first = prefer_fp16 ? "fp16" : "";
    const char* second = prefer_fp16 ? "" : "fp16";
    auto pick = by_variant.count(first) ? by_variant.find(first) : by_variant.find(second);
    if (pick == by_variant.end())
      throw Error(repo + ": " + dir + "/ has no .safetensors weights (plain or fp16); only safetensors are read");
    for (auto& f : pick->second) chosen.insert(std::string(dir) + "/" + f);
  }
  return std::vector<std::string>(chosen.begin(), chosen.end());
}

}  // namespace sd::io
