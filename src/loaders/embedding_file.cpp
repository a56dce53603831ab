#include "loaders/embedding_file.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "io/safetensors.h"

namespace sd::pipeline {

namespace {

Tensor vectors(const io::SafetensorsFile& file, const std::string& key) {
  const io::TensorInfo& info = file.info(key);
  const std::string what = file.path() + ": tensor \"" + key + "\"";
  if (!info.dtype || (*info.dtype != DType::F32 && *info.dtype != DType::F16 && *info.dtype != DType::BF16))
    throw Error(what + " has dtype " + info.dtype_name + ", not float");
  Tensor t = file.load(key, DType::F32);
  if (t.ndim() == 1) t = t.reshape({1, t.size(0)});
  if (t.ndim() != 2 || t.size(0) < 1 || t.size(1) < 1)
    throw Error(what + " has shape " + t.shape().str() + ", not [vectors, hidden]");
  if (t.size(0) > kMaxEmbeddingVectors)
    throw Error(what + " holds " + std::to_string(t.size(0)) + " vectors; at most " +
                std::to_string(kMaxEmbeddingVectors) + " are accepted");
  t = t.contiguous();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.data<float>()[i])) throw Error(what + " holds values that are not finite");
  return t;
}

}  // namespace

EmbeddingVectors read_embedding_file(const std::string& path) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read its size: " + ec.message());
  if (bytes > kMaxEmbeddingFileBytes)
    throw Error(path + ": " + std::to_string(bytes) + " bytes; an embedding file may have at most " +
                std::to_string(kMaxEmbeddingFileBytes));
  const io::SafetensorsFile file = io::SafetensorsFile::open(path);
  EmbeddingVectors e;
  if (file.contains("clip_l") || file.contains("clip_g")) {
    if (!file.contains("clip_l") || !file.contains("clip_g"))
      throw Error(path + ": an SDXL embedding needs both \"clip_l\" and \"clip_g\"");
    e.clip_l = vectors(file, "clip_l");
    e.clip_g = vectors(file, "clip_g");
    return e;
  }
  for (const char* key : {"emb_params", "string_to_param.*", "*"})
    if (file.contains(key)) {
      e.single = vectors(file, key);
      return e;
    }
  if (file.names().size() == 1) {
    e.single = vectors(file, file.names().front());
    return e;
  }
  throw Error(path + ": no embedding in it (expected \"emb_params\", \"string_to_param.*\", \"clip_l\"/\"clip_g\" "
                     "or a single tensor)");
}

}  // namespace sd::pipeline
