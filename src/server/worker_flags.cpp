#include "server/worker_flags.h"

#include <CLI/CLI.hpp>

#include "core/log.h"
#include "core/error.h"
#include "loaders/model_source.h"
#include "loaders/model_version.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/pipeline.h"

namespace sd::server {

namespace {

std::string version_list() {
  std::string out;
  for (const auto& v : pipeline::all_versions()) out += (out.empty() ? "" : ", ") + v.name;
  return out;
}

// One line for the user: the flag and why, never a usage dump.
struct FlagError {
  std::string line;
};

// The CPU backend computes in f32 or bf16. --use-f16 is a GPU flag a hive may pass to every
// worker, so the CPU worker notes and ignores it; an explicit --dtype f16 is refused. auto
// on the CPU is the pipeline's rule for the model cfg names.
DType resolve_dtype(const std::string& name, bool use_f16, const std::string& device_kind, const WorkerConfig& cfg) {
  const bool cpu = device_kind == "cpu";
  if (use_f16 && name != "auto" && name != "f16") throw FlagError{"--use-f16 conflicts with --dtype " + name};
  if (use_f16 && cpu) {
    log_info("--use-f16 applies to GPUs; the CPU worker uses --dtype " + name);
  } else if (use_f16) {
    return DType::F16;
  }
  if (name == "f32") return DType::F32;
  if (name == "bf16") return DType::BF16;
  if (name == "f16") {
    if (cpu) throw FlagError{"--dtype f16: the CPU backend computes in f32 or bf16"};
    return DType::F16;
  }
  return cpu ? pipeline::default_cpu_dtype(cfg.load_options()) : DType::F16;
}

// What the model flags name, checked the way the pipeline will load it (nothing is
// downloaded here): a local path must exist, a version or repo id must be well formed.
// With both --model-path and --model, the path is loaded and --model names it; a version
// there is the version expected.
void check_model(WorkerConfig& cfg) {
  if (!cfg.model_path.empty() && !cfg.model.empty() && cfg.sd_version.empty())
    if (auto v = pipeline::find_version(cfg.model)) cfg.sd_version = v->name;
  try {
    pipeline::resolve_model_source(cfg.load_options());
  } catch (const Error& e) {
    throw FlagError{e.what()};
  }
}

}  // namespace

FlagsOutcome parse_worker_flags(int argc, const char* const* argv, const std::string& program,
                                const std::string& device_kind) {
  WorkerConfig cfg;
  cfg.program = program;
  std::string dtype_name = "auto";
  bool use_f16 = false;
  std::string on_shutdown = "cancel";
  std::string preview_name;
  int retention_s = int(cfg.job_retention.count());
  int keepalive_ms = int(cfg.keepalive_interval.count());
  int heartbeat_ms = int(cfg.heartbeat_interval.count());
  int header_timeout_s = int(cfg.header_timeout.count() / 1000);
  int body_timeout_s = int(cfg.body_timeout.count() / 1000);

  CLI::App app{program + ": Stable Diffusion image worker (rbee worker protocol)", program};
  app.add_option("--worker-id", cfg.worker_id, "Identity in logs, heartbeats and /info")->required()->envname("WORKER_ID");
  app.add_option("--sd-version", cfg.sd_version, "Model version (" + version_list() + "); default: from the model's config")
      ->envname("SD_VERSION");
  app.add_option("--port", cfg.port, "TCP port")->required()->envname("PORT")->check(CLI::Range(1, 65535));
  app.add_option("--host", cfg.host, "Bind address")->envname("HOST")->capture_default_str();
  app.add_option("--callback-url,--queen-url,--hive-url", cfg.callback_url, "Hive/queen base URL for heartbeats")
      ->envname("CALLBACK_URL");
  app.add_option("--model", cfg.model,
                 "What a hive passes: a local path, a version or a Hugging Face repo id (fetched into the Hub cache)")
      ->envname("MODEL");
  app.add_option("--model-path", cfg.model_path, "Local diffusers folder or single-file checkpoint; no download")
      ->envname("MODEL_PATH");
  app.add_option("--config,--config-dir", cfg.config_dir, "Diffusers configs for a single-file checkpoint")
      ->envname("SD_CONFIG_DIR");
  app.add_option("--tokenizer-dir", cfg.tokenizer_dir, "Folder with the CLIP vocab.json and merges.txt, when the model lacks them")
      ->envname("SD_TOKENIZER_DIR");
  app.add_option("--vae", cfg.vae_path,
                 "VAE replacing the model's own: a diffusers VAE folder or a .safetensors file (LDM or diffusers names)")
      ->envname("SD_VAE_PATH")->check(CLI::ExistingPath);
  app.add_option("--embeddings-dir", cfg.embeddings_dir,
                 "Folder of textual-inversion embeddings (.safetensors) prompts may use by file name")
      ->envname("SD_EMBEDDINGS_DIR")->check(CLI::ExistingDirectory);
  app.add_option("--lora-dir", cfg.lora_dirs,
                 "Folder jobs may read loras from (repeatable, or a ':'-separated list); without it loras are refused")
      ->envname("SD_LORA_DIR")->delimiter(':')->check(CLI::ExistingDirectory);
  app.add_option("--device,--cuda-device", cfg.device_index, "GPU index (cuda binary)")
      ->envname("CUDA_DEVICE")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--dtype", dtype_name, "Compute dtype; auto = f16 on GPU; on the CPU bf16 where it computes bf16 faster than f32 or the model would not fit in memory in f32, else f32")
      ->envname("SD_WORKER_DTYPE")->check(CLI::IsMember({"auto", "f32", "bf16", "f16"}))->capture_default_str();
  app.add_flag("--use-f16", use_f16, "Same as --dtype f16 (GPU workers; the CPU worker ignores it)")->envname("USE_F16");
  app.add_flag("--use-flash-attn,!--no-use-flash-attn", cfg.flash_attention,
               "Fused attention where supported (the CPU backend always fuses)")
      ->envname("USE_FLASH_ATTN");
  app.add_option("--threads", cfg.threads, "CPU threads; 0 = all cores")
      ->envname("SD_WORKER_THREADS")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--queue-capacity", cfg.queue_capacity, "Queued jobs before 429")
      ->envname("SD_WORKER_QUEUE_CAPACITY")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--api-token", cfg.api_token, "Bearer token every route but /health requires")->envname("SD_WORKER_API_TOKEN");
  app.add_flag("--public-metrics", cfg.public_metrics, "GET /metrics answers without the --api-token")
      ->envname("SD_WORKER_PUBLIC_METRICS");
  app.add_option("--taesd", cfg.taesd_path,
                 "TAESD for full-size previews: a diffusers AutoencoderTiny folder or a taesd_decoder .safetensors")
      ->envname("SD_TAESD_PATH");
  app.add_option("--preview", preview_name, "Preview kind: none, latent, taesd (default: taesd with --taesd, else latent)")
      ->envname("SD_WORKER_PREVIEW")->check(CLI::IsMember({"none", "latent", "taesd"}));
  app.add_option("--preview-every", cfg.preview_every, "Steps between previews (the last step always gets one)")
      ->envname("SD_WORKER_PREVIEW_EVERY")->check(CLI::Range(1, 150))->capture_default_str();
  auto* tiling = app.add_flag("--vae-tiling", cfg.vae_tiling,
                              "VAE decode and encode in overlapping tiles (diffusers' enable_vae_tiling): "
                              "bounded memory for large images")
                    ->envname("SD_WORKER_VAE_TILING");
  // A multiple of 32 of at least 64 pixels tiles every SD VAE (8 pixels per latent) exactly.
  app.add_option("--vae-tile-size", cfg.vae_tile_size,
                 "Tile edge in pixels for --vae-tiling (default: the VAE's sample_size)")
      ->envname("SD_WORKER_VAE_TILE_SIZE")->needs(tiling)->check(CLI::Range(64, 8192));
  app.add_option("--max-memory", cfg.max_memory,
                 "Memory the worker may grow to with a job (bytes, or with a unit: 6GB, 512MiB); jobs that would "
                 "need more are refused, and a model that would not fit with its text encoders kept reads their "
                 "layers from its files for each job. Default: the cgroup's limit or the system's available memory")
      ->envname("SD_WORKER_MAX_MEMORY")->transform(CLI::AsSizeValue(false));
  app.add_option("--job-retention", retention_s, "Seconds a finished job's events and result are kept")
      ->envname("SD_WORKER_JOB_RETENTION")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--on-shutdown", on_shutdown, "What SIGINT/SIGTERM does to the running job")
      ->envname("SD_WORKER_ON_SHUTDOWN")->check(CLI::IsMember({"cancel", "finish"}))->capture_default_str();
  app.add_option("--header-timeout", header_timeout_s,
                 "Seconds a client has to send a request's headers (from connecting, or from the previous answer)")
      ->envname("SD_WORKER_HEADER_TIMEOUT")->check(CLI::Range(1, 3600))->capture_default_str();
  app.add_option("--body-timeout", body_timeout_s, "Seconds a client has to send a request's body after its headers")
      ->envname("SD_WORKER_BODY_TIMEOUT")->check(CLI::Range(1, 3600))->capture_default_str();
  app.add_option("--max-connections-per-client", cfg.max_connections_per_client,
                 "Open connections one source address may hold")
      ->envname("SD_WORKER_MAX_CONNECTIONS_PER_CLIENT")->check(CLI::Range(1, 1000000))->capture_default_str();
  // Test hooks: tests cannot wait for the production intervals.
  app.add_option("--keepalive-interval-ms", keepalive_ms)->group("")->check(CLI::Range(10, 3600000));
  app.add_option("--heartbeat-interval-ms", heartbeat_ms)->group("")->check(CLI::Range(10, 3600000));

  FlagsOutcome out;
  try {
    app.parse(argc, argv);
    if (!cfg.sd_version.empty()) {
      auto v = pipeline::find_version(cfg.sd_version);
      if (!v) throw FlagError{"--sd-version " + cfg.sd_version + ": unknown version; expected one of " + version_list()};
      cfg.sd_version = v->name;
    }
    check_model(cfg);
    if (!cfg.callback_url.empty() && cfg.callback_url.rfind("http://", 0) != 0 &&
        cfg.callback_url.rfind("https://", 0) != 0)
      throw FlagError{"--callback-url " + cfg.callback_url + ": must start with http:// or https://"};
    cfg.dtype = resolve_dtype(dtype_name, use_f16, device_kind, cfg);
    if (preview_name.empty()) preview_name = cfg.taesd_path.empty() ? "latent" : "taesd";
    if (preview_name == "taesd" && cfg.taesd_path.empty()) throw FlagError{"--preview taesd needs --taesd"};
    cfg.preview = *pipeline::parse_preview_mode(preview_name);
    if (cfg.vae_tile_size % 32 != 0)
      throw FlagError{"--vae-tile-size " + std::to_string(cfg.vae_tile_size) + ": must be a multiple of 32"};
  } catch (const CLI::CallForHelp&) {
    out.message = app.help();
    return out;
  } catch (const CLI::ParseError& e) {
    out.exit_code = 2;
    out.message = e.what();
    return out;
  } catch (const FlagError& e) {
    out.exit_code = 2;
    out.message = e.line;
    return out;
  }
  cfg.device = device_kind == "cuda" ? "cuda:" + std::to_string(cfg.device_index) : device_kind;
  cfg.job_retention = std::chrono::seconds(retention_s);
  cfg.finish_running_on_shutdown = on_shutdown == "finish";
  cfg.keepalive_interval = std::chrono::milliseconds(keepalive_ms);
  cfg.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  cfg.header_timeout = std::chrono::seconds(header_timeout_s);
  cfg.body_timeout = std::chrono::seconds(body_timeout_s);
  out.config = std::move(cfg);
  return out;
}

}  // namespace sd::server
