#include "loaders/model_source.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "io/diffusers_files.h"
#include "loaders/model_version.h"

namespace sd::pipeline {

namespace fs = std::filesystem;

namespace {

std::string version_list() {
  std::string s;
  for (const auto& v : all_versions()) s += (s.empty() ? "" : ", ") + v.name;
  return s;
}

// A local folder or file as a source; `flag` names the option in errors.
ModelSource local_source(const std::string& path, const std::string& flag) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw Error(flag + " " + path + ": no such file or directory");
  if (fs::is_directory(status)) return {ModelSource::Kind::DiffusersFolder, path, ""};
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin")
    throw Error(flag + " " + path + ": pickled " + ext +
                " checkpoints are not supported (they can run code when loaded); use the .safetensors release");
  if (ext != ".safetensors")
    throw Error(flag + " " + path + ": neither a diffusers folder nor a .safetensors single-file checkpoint");
  return {ModelSource::Kind::SingleFile, path, ""};
}

}  // namespace

ModelSource resolve_model_source(const LoadOptions& opt) {
  std::string version;
  if (!opt.sd_version.empty()) {
    const auto v = find_version(opt.sd_version);
    if (!v) throw Error("--sd-version " + opt.sd_version + ": unknown version; expected one of " + version_list());
    version = v->name;
  }
  if (!opt.model_path.empty() && !opt.model.empty())
    throw Error("--model-path and --model both name a model; give one of them");

  ModelSource src;
  if (!opt.model_path.empty()) {
    src = local_source(opt.model_path, "--model-path");
  } else if (!opt.model.empty()) {
    if (fs::exists(opt.model)) {
      src = local_source(opt.model, "--model");
    } else if (const auto v = find_version(opt.model)) {
      if (!version.empty() && version != v->name)
        throw Error("--model " + opt.model + " and --sd-version " + opt.sd_version + " name different versions");
      version = v->name;
      src = {ModelSource::Kind::HubRepo, v->hub_repo, ""};
    } else if (opt.model.find('/') != std::string::npos && io::is_valid_repo_id(opt.model)) {
      src = {ModelSource::Kind::HubRepo, opt.model, ""};
    } else {
      throw Error("--model " + opt.model + ": not an existing path, a version (" + version_list() +
                  ") or a Hugging Face repo id (org/name)");
    }
  } else if (!version.empty()) {
    src = {ModelSource::Kind::HubRepo, find_version(version)->hub_repo, ""};
  } else {
    throw Error("no model given: pass --model-path, --model or --sd-version");
  }
  src.version = version;

  if (!opt.config_dir.empty()) {
    if (src.kind != ModelSource::Kind::SingleFile)
      throw Error("--config " + opt.config_dir + ": only a single-file checkpoint takes its configs from --config; " +
                  (src.kind == ModelSource::Kind::HubRepo ? "the Hub repository " : "the diffusers folder ") +
                  src.location + " has its own");
    if (!fs::is_directory(opt.config_dir)) throw Error("--config " + opt.config_dir + ": not a directory");
  }
  return src;
}

std::string fetch_hub_model(const std::string& repo, DType compute_dtype, io::HubOptions hub) {
  if (!hub.progress) hub.progress = io::hub_stderr_progress();
  const bool prefer_fp16 = compute_dtype != DType::F32;
  log_info("model " + repo + ": Hugging Face Hub cache " + hub.cache_dir + (hub.offline ? " (offline)" : ""));
  return io::hub_snapshot_download(
      repo, "main",
      [&](const std::vector<std::string>& files) { return io::diffusers_files_needed(files, prefer_fp16, repo); }, hub);
}

}  // namespace sd::pipeline
