#pragma once
// sd-generate's command line: every flag, grouped as --help shows them (model, prompt,
// sampling, output, performance), and the values they fill in.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"

namespace sd::apps {

struct Options {
  pipeline::LoadOptions load;
  pipeline::GenerationRequest req;  // the fields flags set directly
  std::string dtype = "auto";
  std::string device = "cpu";
  bool verbose = false;

  // Prompt
  std::string prompt_file;
  // Sampling
  std::optional<int> steps, width, height, clip_skip;
  std::optional<float> guidance;
  std::optional<std::string> seed;  // "-1" or an integer, parsed by main
  std::optional<std::string> sampler, schedule;
  std::optional<double> strength;
  std::string rng;
  std::string init_image, mask_image;
  std::vector<std::string> lora_args;
  int batch_count = 1;
  // Output
  std::string output, output_dir, format;
  std::optional<int> quality;
  std::string save_latents;
  std::string preview_name, preview_dir;
  bool fast_decode = false;
  uint64_t max_memory = 0;  // bytes; 0 = the cgroup's limit or the system's available memory
};

// Adds every flag to `app`, writing into `o`.
void add_options(CLI::App& app, Options& o);

}  // namespace sd::apps
