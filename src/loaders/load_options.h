#pragma once
// What to load and how: the model, its helpers (configs, tokenizer, TAESD), the compute
// dtype and the device. The pipeline's front ends fill it in; the loaders read it.
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"

namespace sd::pipeline {

struct LoadOptions {
  // Exactly one of model_path / model, or neither with sd_version (model_source.h).
  std::string model_path;      // diffusers folder or single-file checkpoint; no download
  std::string model;           // a local path, a version string or a Hugging Face repo id
  std::string config_dir;      // configs/tokenizer/scheduler for a single file (optional)
  std::string tokenizer_dir;   // overrides vocab.json/merges.txt location (optional)
  std::string sd_version;      // expected version; empty = detect
  DType dtype = DType::F32;    // compute dtype
  // Where the networks run: their layers' weights are uploaded there once, at load.
  Device device = Device::cpu();
  int threads = 0;             // 0 = all cores
  // Bytes the process may use (0 = its cgroup's limit or the system's available memory):
  // the text encoders stream their layers from the files for each job when the whole
  // model and a native-size image would not fit in it (model_set.h), and the warm-up
  // runs within it, as jobs are admitted (memory_admission.h).
  uint64_t max_memory = 0;
  // Run one native-size image of one step at load (Pipeline::warm_up), so the first job
  // does not pay for creating primitives and reordering weights.
  bool warm_up = true;
  // TAESD for previews and the fast final decode (optional): a diffusers AutoencoderTiny
  // folder or a bare taesd_decoder .safetensors; its latents must be the UNet's.
  std::string taesd_path;
  // A VAE replacing the model's own (vae_file.h): a diffusers folder or a .safetensors file.
  std::string vae_path;
  // The only folders a job's LoRAs are read from: the "loras" of a request and the
  // <lora:NAME:WEIGHT> tags of a prompt (prompt_loras.h). None: LoRAs named by a job are refused.
  std::vector<std::string> lora_dirs;
  // Textual-inversion embeddings prompts may use by name (textual_inversion.h); empty: none.
  std::string embeddings_dir;
};

}  // namespace sd::pipeline
