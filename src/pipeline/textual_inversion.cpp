#include "pipeline/textual_inversion.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "loaders/embedding_file.h"
#include "ops/ops.h"
#include "pipeline/lora_location.h"

namespace sd::pipeline {

namespace {

namespace fs = std::filesystem;

// The vectors of `e` for each text encoder of the model, or why they do not fit it.
std::vector<Tensor> vectors_for(const EmbeddingVectors& e, const ModelSet& m, std::string& why) {
  std::vector<const models::ClipTextModel*> encoders = {m.text_encoder.get()};
  if (m.text_encoder_2) encoders.push_back(m.text_encoder_2.get());
  const std::vector<Tensor> parts =
      encoders.size() == 2 ? std::vector<Tensor>{e.clip_l, e.clip_g} : std::vector<Tensor>{e.single};
  for (size_t i = 0; i < parts.size(); ++i) {
    const int hidden = encoders[i]->config().hidden_size;
    if (!parts[i].defined()) {
      why = encoders.size() == 2 ? "an SD1/SD2 embedding, and this is an SDXL model"
                                 : "an SDXL embedding, and this model has one text encoder";
      return {};
    }
    if (parts[i].size(1) != hidden) {
      why = "vectors of " + std::to_string(parts[i].size(1)) + " values; text encoder " + std::to_string(i + 1) +
            " takes " + std::to_string(hidden);
      return {};
    }
  }
  return parts;
}

// The vectors and width of `e` as A1111 counts them.
EmbeddingInfo info_of(const std::string& name, const EmbeddingVectors& e) {
  if (e.single.defined()) return {name, e.single.size(0), e.single.size(1)};
  return {name, e.clip_g.size(0), e.clip_l.size(1) + e.clip_g.size(1)};
}

}  // namespace

TextualInversions TextualInversions::load(const std::string& dir, const ModelSet& m) {
  TextualInversions out;
  if (dir.empty()) return out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("--embeddings-dir " + dir + ": not a folder");
  std::vector<std::string> stems;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".safetensors") stems.push_back(it->path().stem().string());
  std::sort(stems.begin(), stems.end());
  if (stems.size() > kMaxEmbeddingFiles) {
    log_warn("--embeddings-dir " + dir + ": " + std::to_string(stems.size()) + " files; the first " +
             std::to_string(kMaxEmbeddingFiles) + " are used");
    stems.resize(kMaxEmbeddingFiles);
  }

  const int encoders = m.text_encoder_2 ? 2 : 1;
  std::array<std::vector<Tensor>, 2> added;
  std::array<int64_t, 2> added_count = {0, 0};
  for (const std::string& name : stems) {
    std::string why;
    std::vector<Tensor> parts;
    std::optional<EmbeddingInfo> info;
    std::string path;
    try {
      // The folder check LoRA names get: links are followed only to regular files inside it.
      path = resolve_lora_reference(name, LoraReference::Name, {dir});
    } catch (const Error&) {
      why = "not a regular file inside " + dir;
    }
    if (!path.empty()) {
      try {
        const EmbeddingVectors e = read_embedding_file(path);
        info = info_of(name, e);
        parts = vectors_for(e, m, why);
      } catch (const Error& e) {
        why = e.what();
      }
    }
    const std::vector<int32_t> match = m.tokenizer->encode(name);
    if (parts.empty() || match.empty()) {
      log_warn("embedding \"" + name + "\" skipped: " + (why.empty() ? "its name has no tokens" : why));
      if (info) out.skipped_.push_back(*info);
      continue;
    }
    for (int k = 0; k < encoders; ++k) {
      const models::ClipTextModel& enc = k == 0 ? *m.text_encoder : *m.text_encoder_2;
      text::TokenSubstitution s{match, {}};
      for (int64_t v = 0; v < parts[size_t(k)].size(0); ++v)
        s.replacement.push_back(int32_t(enc.config().vocab_size + added_count[size_t(k)]++));
      out.encoders_[size_t(k)].substitutions.push_back(std::move(s));
      added[size_t(k)].push_back(parts[size_t(k)]);
    }
    out.loaded_.push_back(*info);
  }
  for (int k = 0; k < encoders; ++k)
    if (!added[size_t(k)].empty()) out.encoders_[size_t(k)].added_tokens = ops::concat(added[size_t(k)], 0);
  if (!out.loaded_.empty())
    log_info("embeddings from " + dir + ": " + std::to_string(out.loaded_.size()) + " usable");
  return out;
}

}  // namespace sd::pipeline
