#include "models/weight_source.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "io/json_file.h"

namespace sd::models {

namespace fs = std::filesystem;

Tensor WeightSource::get(const std::string& name, const Shape& shape, DType dtype) const {
  Tensor t = fetch(name, shape, dtype);
  if (!t.defined()) throw Error(describe() + ": tensor \"" + name + "\" not found");
  if (t.shape() != shape)
    throw Error(describe() + ": tensor \"" + name + "\" has shape " + t.shape().str() +
                ", the model config expects " + shape.str());
  return t;
}

std::optional<WeightRows> WeightSource::rows(const std::string&, const Shape&, DType) const { return std::nullopt; }

void WeightSource::prepare_layers_on(Device device) {
  layers_device_ = device;
  layers_arena_ = device.is_cpu() ? std::make_shared<WeightArena>() : nullptr;
}

SafetensorsWeights::SafetensorsWeights(const std::vector<std::string>& paths) {
  SD_CHECK(!paths.empty(), "no safetensors file given");
  for (const auto& p : paths) {
    files_.push_back(io::SafetensorsFile::open(p));
    for (const auto& name : files_.back().names()) {
      auto [it, fresh] = file_of_.emplace(name, files_.size() - 1);
      if (!fresh)
        throw Error(p + ": tensor \"" + name + "\" is also in " + files_[it->second].path());
    }
  }
}

// The shard files a diffusers `*.safetensors.index.json` names in its weight_map.
static std::vector<std::string> shards_of_index(const fs::path& index) {
  io::Json j = io::read_json_file(index.string());
  auto it = j.find("weight_map");
  if (it == j.end() || !it->is_object())
    throw Error(index.string() + ": no \"weight_map\" object");
  std::set<std::string> names;
  for (auto& [tensor, file] : it->items()) {
    if (!file.is_string())
      throw Error(index.string() + ": weight_map entry \"" + tensor + "\" is not a file name");
    names.insert(file.get<std::string>());
  }
  std::vector<std::string> paths;
  for (const auto& n : names) paths.push_back((index.parent_path() / n).string());
  return paths;
}

std::unique_ptr<SafetensorsWeights> SafetensorsWeights::open_component(const std::string& dir) {
  // Full precision first: a folder holding both is read the way diffusers reads it by default.
  static const char* const kStems[] = {"diffusion_pytorch_model", "model"};
  static const char* const kVariants[] = {"", ".fp16"};
  std::string tried;
  for (const char* variant : kVariants) {
    for (const char* stem : kStems) {
      fs::path single = fs::path(dir) / (std::string(stem) + variant + ".safetensors");
      if (fs::exists(single))
        return std::make_unique<SafetensorsWeights>(std::vector<std::string>{single.string()});
      fs::path index = fs::path(single.string() + ".index.json");
      if (fs::exists(index)) return std::make_unique<SafetensorsWeights>(shards_of_index(index));
      tried += (tried.empty() ? "" : ", ") + single.filename().string();
    }
  }
  throw Error(dir + ": no weights found (looked for " + tried +
              " and their .index.json shards; .bin checkpoints are not supported)");
}

bool SafetensorsWeights::has(const std::string& name) const { return file_of_.count(name) != 0; }

std::string SafetensorsWeights::describe() const {
  std::string s = files_.front().path();
  if (files_.size() > 1) s += " (+" + std::to_string(files_.size() - 1) + " more shards)";
  return s;
}

const io::SafetensorsFile* SafetensorsWeights::checked_file(const std::string& name, const Shape& shape,
                                                            DType dtype) const {
  auto it = file_of_.find(name);
  if (it == file_of_.end()) return nullptr;
  const io::SafetensorsFile& f = files_[it->second];
  const io::TensorInfo& info = f.info(name);
  if (info.shape != shape)
    throw Error(f.path() + ": tensor \"" + name + "\" has shape " + info.shape.str() +
                ", the model config expects " + shape.str());
  fetched_.insert(name);
  if (!info.dtype)
    throw Error(f.path() + ": tensor \"" + name + "\" has dtype " + info.dtype_name +
                ", which cannot be converted to " + std::string(dtype_name(dtype)));
  return &f;
}

Tensor SafetensorsWeights::fetch(const std::string& name, const Shape& shape, DType dtype) const {
  const io::SafetensorsFile* f = checked_file(name, shape, dtype);
  return f ? f->load(name, dtype) : Tensor();
}

std::optional<WeightRows> SafetensorsWeights::rows(const std::string& name, const Shape& shape, DType dtype) const {
  const io::SafetensorsFile* f = checked_file(name, shape, dtype);
  if (!f || shape.size() < 1) return std::nullopt;
  const auto read = [f, name, dtype](int64_t row, int64_t count, void* dst) {
    f->read_rows(name, row, count, dtype, dst);
  };
  return WeightRows{shape, dtype, read, layers_arena()};
}

void SafetensorsWeights::require_all_used(const std::vector<std::string>& ignorable) const {
  std::vector<std::string> unused;
  for (const auto& [name, file] : file_of_)
    if (!fetched_.count(name) && std::find(ignorable.begin(), ignorable.end(), name) == ignorable.end())
      unused.push_back(name);
  if (unused.empty()) return;
  std::string examples;
  for (size_t i = 0; i < unused.size() && i < 3; ++i) examples += (i ? ", " : "") + unused[i];
  throw Error(describe() + ": " + std::to_string(unused.size()) +
              " tensors are not part of the model its config describes (e.g. " + examples +
              "); the config does not match the weights");
}

}  // namespace sd::models
