#pragma once
// The configs of every version of the worker contract (worker-api.md section 5), built
// in for single-file checkpoints, which carry weights only. They are written from the
// numbers of each version's reference repository (the real unet/vae/text_encoder/
// scheduler/tokenizer files), and tests/pipeline/builtin_configs_test.cpp checks that
// each parses to exactly what the real file parses to.
#include <string>

#include "io/json_file.h"
#include "text/tokenizer_config.h"

namespace sd::pipeline {

struct BuiltinConfigs {
  // The content of unet/config.json, vae/config.json, text_encoder/config.json and
  // scheduler/scheduler_config.json.
  io::Json unet, vae, text_encoder, scheduler;
  io::Json text_encoder_2;  // SDXL; null for one text encoder
  text::TokenizerConfig tokenizer, tokenizer_2;
  bool force_zeros_for_empty_prompt = false;  // model_index.json (SDXL)
};

// The configs of a version named as all_versions() names it; throws sd::Error otherwise.
BuiltinConfigs builtin_configs(const std::string& version);

}  // namespace sd::pipeline
