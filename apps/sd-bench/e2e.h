#pragma once
// sd-bench --e2e: the whole run a person starts, measured phase by phase: a random-weight
// diffusers folder on disk (loaders/random_model_folder.h), loaded through
// Pipeline::load, then jobs of 2 steps and the VAE decode as sd-generate runs them.
#include <nlohmann/json.hpp>
#include <string>

#include "core/device.h"
#include "core/dtype.h"
#include "loaders/random_model_folder.h"

namespace sd::bench {

struct E2eOptions {
  std::string config_dir;  // the model's diffusers configs
  std::string dir;         // where the folder is (reused when complete) or written; empty: a temp folder
  pipeline::FolderPrecision precision = pipeline::FolderPrecision::F32;
  DType dtype = DType::BF16;
  Device device = Device::cpu();
  int width = 512, height = 512;
  int threads = 0;
  int jobs = 2;  // a worker's first and second jobs
  bool warm_up = true;  // Pipeline::warm_up after the load, as sd-generate and the worker load
  uint64_t max_memory = 0;  // the jobs are admitted within it as sd-generate's (memory_admission.h)
  // Load the model a second time once the first is freed, and run the jobs on that one:
  // a load into memory the process has already used, which the pool recycles, times the
  // engine's own work without what the machine charges for fresh pages.
  bool reload = false;
};

// The folder of `opt`, written now unless opt.dir already holds one of its precision;
// returns its path and sets *written_seconds (0 when reused). Writing runs in a child
// process, so that its memory never counts in this process's peak RSS; call it before
// anything starts OpenMP threads (a forked child cannot use the parent's pool).
std::string prepare_e2e_folder(const E2eOptions& opt, double* written_seconds);

// Loads `folder` and runs the jobs; returns the JSON fields of the run.
nlohmann::ordered_json run_e2e(const E2eOptions& opt, const std::string& folder);

}  // namespace sd::bench
