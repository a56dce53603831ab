#pragma once
// The names and short hashes that identify a checkpoint and its LoRAs in an image's
// parameters, computed as AUTOMATIC1111 does, so that A1111, Civitai and other readers
// link the image to the same files.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "loaders/load_options.h"

namespace sd::pipeline {

struct CheckpointIdentity {
  std::string name;  // file name without extension, or the folder's (repo's) name; never a path
  std::string hash;  // A1111's "Model hash": the first 10 hex digits of the file's SHA-256
  std::string vae;   // --vae's file or folder name (A1111's "VAE"), empty for the model's own
};

// The name of the checkpoint `opt` names: its file's or folder's, a Hub repository's.
std::string checkpoint_name(const LoadOptions& opt);
// The hash of the checkpoint loaded from `loaded_from` (the Hub's download folder for a
// repository): a single file is hashed whole; a diffusers folder (there is no single file
// to hash) by its UNet weights file, the first shard when sharded. The hash is remembered
// in io::default_hash_cache_file() while the file keeps its size and modification time;
// otherwise the file is streamed once (about 0.6 s per GB where the CPU has SHA
// extensions). Throws sd::Error naming a file it cannot read.
std::string checkpoint_hash(const std::string& loaded_from);

// A1111's LoRA short hash: the first 12 hex digits of the SHA-256 of a safetensors file's
// tensor data (everything after the header: kohya's "addnet" hash, which survives edits
// to the metadata).
std::string lora_short_hash(const std::string& path);

// lora_short_hash, computed once per file while it keeps its size and modification time.
class LoraHashCache {
 public:
  std::string get(const std::string& path);

 private:
  std::mutex mutex_;
  std::map<std::string, std::tuple<uint64_t, int64_t, std::string>> hashes_;  // size, mtime, hash
};

// A name without the characters that delimit A1111's parameters (':' and ','), as A1111
// writes LoRA names; the file name without extension for a path.
std::string parameters_name_of_file(const std::string& path);

}  // namespace sd::pipeline
