#pragma once
// Which model the load options name and where it comes from (worker-api.md section 1):
// - model_path: a local diffusers folder or single-file checkpoint, never downloaded;
// - model: what a hive passes: an existing local path (which wins), a version string
//   ("v1-5", "xl", ... downloading that version's repository of worker-api.md section 5),
//   or a Hugging Face repo id ("org/name");
// - sd_version alone: that version's repository.
// Repositories are fetched into the Hugging Face Hub cache (HF_HOME, HF_HUB_CACHE,
// HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE honoured), so a model already there, fetched by
// this engine or by Python tools, is used without the network.
#include <string>

#include "core/dtype.h"
#include "io/hub.h"
#include "loaders/load_options.h"

namespace sd::pipeline {

struct ModelSource {
  enum class Kind { DiffusersFolder, SingleFile, HubRepo };
  Kind kind = Kind::DiffusersFolder;
  std::string location;  // the folder or file, or the repo id
  std::string version;   // the version asked for (canonical name), empty to detect it
};

// Classifies the options without loading or downloading anything. Throws sd::Error with
// one line naming the option at fault: both or none of model_path/model (without
// sd_version), a path that does not exist, a file that is not .safetensors, a model that
// is neither a path, a version nor a repo id, an unknown sd_version or one contradicting
// the version given as model, a config_dir that is not a folder or is given for anything
// but a single file.
ModelSource resolve_model_source(const LoadOptions& opt);

// The snapshot folder of diffusers repository `repo` in the Hub cache, holding the files
// the engine needs (io::diffusers_files_needed), downloaded where missing with a progress
// bar on stderr. Weights are the fp16 variants where the repository has them when
// computing in bf16/f16 (which loses nothing those compute in), the full-precision files
// for f32 (the reference path).
std::string fetch_hub_model(const std::string& repo, DType compute_dtype,
                            io::HubOptions hub = io::HubOptions::from_env());

}  // namespace sd::pipeline
