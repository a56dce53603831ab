#include "server/worker_config.h"

namespace sd::server {

pipeline::LoadOptions WorkerConfig::load_options() const {
  pipeline::LoadOptions load;
  load.model_path = model_path;
  if (model_path.empty()) load.model = model;
  load.config_dir = config_dir;
  load.tokenizer_dir = tokenizer_dir;
  load.sd_version = sd_version;
  load.dtype = dtype;
  load.device = Device::parse(device);
  load.threads = threads;
  load.taesd_path = taesd_path;
  load.lora_dirs = lora_dirs;
  load.vae_path = vae_path;
  load.embeddings_dir = embeddings_dir;
  load.max_memory = max_memory;
  return load;
}

}  // namespace sd::server
