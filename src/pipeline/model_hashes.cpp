#include "pipeline/model_hashes.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/file_hash_cache.h"
#include "io/file_sha256.h"
#include "loaders/model_source.h"
#include "models/weight_source.h"

namespace sd::pipeline {

namespace fs = std::filesystem;

namespace {
constexpr size_t kModelHashDigits = 10;
constexpr size_t kLoraHashDigits = 12;
}  // namespace

std::string parameters_name_of_file(const std::string& path) {
  fs::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" names dir
  std::string name = fs::is_directory(p) ? p.filename().string() : p.stem().string();
  std::erase_if(name, [](char c) { return c == ':' || c == ','; });
  return name;
}

std::string checkpoint_name(const LoadOptions& opt) {
  const ModelSource src = resolve_model_source(opt);
  if (src.kind != ModelSource::Kind::HubRepo) return parameters_name_of_file(src.location);
  std::string name = src.location.substr(src.location.rfind('/') + 1);
  std::erase_if(name, [](char c) { return c == ':' || c == ','; });
  return name;
}

std::string checkpoint_hash(const std::string& loaded_from) {
  std::string file = loaded_from;
  if (fs::is_directory(loaded_from))
    file = models::SafetensorsWeights::open_component((fs::path(loaded_from) / "unet").string())->files().front().path();
  return io::cached_sha256_file_hex(file, io::default_hash_cache_file()).substr(0, kModelHashDigits);
}

std::string lora_short_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t len[8] = {};
  if (!in.read(reinterpret_cast<char*>(len), 8)) throw Error(path + ": not a safetensors file (shorter than 8 bytes)");
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | len[i];
  if (header > (uint64_t(1) << 40)) throw Error(path + ": not a safetensors file (header length " +
                                                std::to_string(header) + ")");
  return io::sha256_file_hex(path, 8 + header).substr(0, kLoraHashDigits);
}

std::string LoraHashCache::get(const std::string& path) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  const int64_t mtime = ec ? 0 : int64_t(fs::last_write_time(path, ec).time_since_epoch().count());
  std::lock_guard lock(mutex_);
  auto it = hashes_.find(path);
  if (it != hashes_.end() && std::get<0>(it->second) == size && std::get<1>(it->second) == mtime)
    return std::get<2>(it->second);
  std::string hash = lora_short_hash(path);
  hashes_[path] = {size, mtime, hash};
  return hash;
}

}  // namespace sd::pipeline
