#pragma once
// The model versions of the worker contract (worker-api.md section 5), how each is
// recognised from a diffusers folder's configs, and its request defaults.
#include <optional>
#include <string>
#include <vector>

#include "io/json_file.h"

namespace sd::pipeline {

enum class Family { SD1, SD2, SDXL };

struct VersionDefaults {
  std::string name;         // "v1-5", "xl", ...
  Family family;
  bool inpaint;
  int native_size;          // pixels, square
  int steps;
  float guidance;
  std::string sampler;
  std::string hub_repo;     // Hugging Face repo id
};

// Every version of the contract, in the order of worker-api.md.
const std::vector<VersionDefaults>& all_versions();
// Accepts the contract's spellings ("v1-5", "v1.5", "1.5", "XL", ...); nullopt if unknown.
std::optional<VersionDefaults> find_version(const std::string& name);

// The configs that identify a model set: the UNet's, the first text encoder's, the
// scheduler's, and whether a second text encoder exists.
struct VersionEvidence {
  io::Json unet;
  io::Json text_encoder;
  io::Json scheduler;
  bool has_text_encoder_2 = false;
};

// Recognises the version from structure, not sizes (the test fixtures are tiny): a second
// text encoder means SDXL, a GELU text encoder SD2, 9 UNet input channels inpainting,
// "trailing" timestep spacing a Turbo distillation.
const VersionDefaults& detect_version(const VersionEvidence& e);

}  // namespace sd::pipeline
