#pragma once
// Everything a worker process is started with: the flags and environment variables of
// worker-api.md section 1, already checked and resolved (model path, canonical version,
// concrete dtype).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "pipeline/pipeline.h"
#include "pipeline/request.h"

namespace sd::server {

struct WorkerConfig {
  std::string program;        // "sd-worker-cpu": log prefix and error lines
  std::string device = "cpu"; // "cpu", "cuda:0": /info and heartbeats
  std::string device_name;     // the GPU's name, set by open_device (worker.h); empty on the CPU
  uint64_t device_memory_bytes = 0;  // the GPU's memory, set with device_name
  std::string worker_id;
  std::string sd_version;     // canonical ("v1-5", "xl"...) or empty: detect from the model
  int port = 0;
  std::string host = "127.0.0.1";
  std::string callback_url;   // hive/queen base URL; empty = no heartbeats
  std::string model;          // what the hive passed (version, repo id or path)
  std::string model_path;     // local diffusers folder or single-file checkpoint
  std::string config_dir;     // configs for a single-file checkpoint
  std::string tokenizer_dir;  // vocab.json/merges.txt override
  std::string taesd_path;     // TAESD for full-size previews (optional)
  std::string vae_path;       // a VAE replacing the model's own (optional)
  std::string embeddings_dir; // textual-inversion embeddings prompts may name (optional)
  std::vector<std::string> lora_dirs;  // the only folders jobs may read loras from
  int device_index = 0;
  DType dtype = DType::F32;
  bool flash_attention = true;
  int threads = 0;            // 0 = all cores
  size_t queue_capacity = 16;
  std::string api_token;
  bool public_metrics = false;  // GET /metrics answers without the token
  pipeline::PreviewMode preview = pipeline::PreviewMode::LatentRgb;
  int preview_every = 5;      // steps between previews
  bool vae_tiling = false;    // VAE in tiles (bounded memory for large images)
  int vae_tile_size = 0;      // tile edge in pixels; 0 = the VAE's sample_size
  uint64_t max_memory = 0;    // bytes the process may grow to with a job; 0 = cgroup/system limit
  std::chrono::seconds job_retention{600};
  bool finish_running_on_shutdown = false;
  size_t max_body_bytes = size_t(32) << 20;
  // HTTP limits against slow or greedy clients (src/server/http/server.h).
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{120000};
  size_t max_connections_per_client = 256;
  std::chrono::milliseconds keepalive_interval{15000};
  std::chrono::milliseconds heartbeat_interval{30000};

  // The name a hive knows the model by, for /info and heartbeats.
  std::string model_id() const { return !model.empty() ? model : !model_path.empty() ? model_path : sd_version; }

  // What the engine loads. --model-path wins over --model, which then only names the
  // model (a hive may pass both); either may be absent when --sd-version names it.
  pipeline::LoadOptions load_options() const;
};

}  // namespace sd::server
