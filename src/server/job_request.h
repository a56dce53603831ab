#pragma once
// Turns the JSON body of POST /v1/jobs into a GenerationRequest: this file checks the
// JSON types and translates names; the pipeline's check_request holds the values to the
// contract. Bad input never reaches the engine: the first problem found is thrown as
// InvalidArgument naming the field. Fields the worker does not know come back as warnings.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/pipeline.h"
#include "pipeline/request.h"
#include "server/worker_config.h"

namespace sd::server {

class InvalidArgument : public std::runtime_error {
 public:
  InvalidArgument(std::string field, const std::string& message)
      : std::runtime_error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Worker settings that shape every request.
struct RequestPolicy {
  std::vector<std::string> lora_dirs;  // the only folders loras are read from; none = loras refused
  pipeline::PreviewMode preview = pipeline::PreviewMode::LatentRgb;
  int preview_every = 5;  // steps between previews
  bool vae_tiling = false;
  int vae_tile_size = 0;
  uint64_t max_memory = 0;  // bytes a job may bring the process to; 0 = what the system allows
};

struct JobSpec {
  pipeline::GenerationRequest request;
  std::string operation;  // "image_generation", "image_transform", "image_inpaint"
  nlohmann::json echo;    // hive_id, model, worker_id exactly as sent (an object, maybe empty)
  // One line per field the worker ignored, naming the native field to use where one fits
  // (cfg_scale: guidance_scale).
  std::vector<std::string> warnings;
};

// The body text as JSON within io::JsonLimits' bounds (depth, value count, numbers a
// double holds); throws InvalidArgument("body", ...) naming what is wrong.
nlohmann::json parse_job_body(std::string_view text);

// The policy a worker started with `cfg` applies to every job.
RequestPolicy request_policy(const WorkerConfig& cfg);

JobSpec parse_job_request(const nlohmann::json& body, const pipeline::ModelInfo& model,
                          const RequestPolicy& policy);

}  // namespace sd::server
