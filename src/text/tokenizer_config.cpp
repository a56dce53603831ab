#include "text/tokenizer_config.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "io/json_file.h"

namespace sd::text {

namespace {

namespace fs = std::filesystem;

// Hugging Face writes VERY_LARGE_INTEGER = int(1e30) when a tokenizer has no length limit.
constexpr double kUnsetMaxLengthAbove = 1e18;

// A special token entry: a string, an AddedToken object, or null (= keep the current value).
void read_token(const io::Json& j, const char* key, std::string& token, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (it->is_string()) {
    token = it->get<std::string>();
    return;
  }
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) {
      token = content->get<std::string>();
      return;
    }
    throw Error(file + ": \"" + key + "\" is an object without a string \"content\"");
  }
  throw Error(file + ": \"" + key + "\" must be a string or an AddedToken object, got " +
              std::string(it->type_name()));
}

void read_special_tokens(const io::Json& j, TokenizerConfig& cfg, const std::string& file) {
  read_token(j, "bos_token", cfg.bos_token, file);
  read_token(j, "eos_token", cfg.eos_token, file);
  read_token(j, "unk_token", cfg.unk_token, file);
  read_token(j, "pad_token", cfg.pad_token, file);
}

int read_max_length(const io::Json& j, int fallback, const std::string& file) {
  auto it = j.find("model_max_length");
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw Error(file + ": \"model_max_length\" must be a number");
  const double v = it->get<double>();
  if (v > kUnsetMaxLengthAbove) return fallback;
  if (v < 3 || v > std::numeric_limits<int>::max() || v != std::floor(v))
    throw Error(file + ": \"model_max_length\" must be an integer >= 3 (room for BOS and EOS), got " +
                it->dump());
  return int(v);
}

std::vector<std::pair<int32_t, std::string>> read_added_tokens(const io::Json& decoder,
                                                               const std::string& file) {
  if (!decoder.is_object()) throw Error(file + ": \"added_tokens_decoder\" must be an object");
  std::vector<std::pair<int32_t, std::string>> tokens;
  for (auto it = decoder.begin(); it != decoder.end(); ++it) {
    const std::string& key = it.key();
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || id < 0 || id > std::numeric_limits<int32_t>::max())
      throw Error(file + ": \"added_tokens_decoder\" key \"" + key + "\" is not a token id");
    std::string content;
    if (it.value().is_string()) {
      content = it.value().get<std::string>();
    } else {
      auto c = it.value().find("content");
      if (!it.value().is_object() || c == it.value().end() || !c->is_string())
        throw Error(file + ": \"added_tokens_decoder\" entry " + key + " has no string \"content\"");
      content = c->get<std::string>();
    }
    if (content.empty()) throw Error(file + ": \"added_tokens_decoder\" entry " + key + " is empty");
    tokens.emplace_back(int32_t(id), std::move(content));
  }
  return tokens;
}

io::Json read_object_file(const std::string& path) {
  io::Json j = io::read_json_file(path);
  if (!j.is_object()) throw Error(path + ": expected a JSON object");
  return j;
}

}  // namespace

TokenizerConfig read_tokenizer_config(const std::string& dir) {
  TokenizerConfig cfg;
  if (dir.empty()) return cfg;
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  const std::string map_path = (fs::path(dir) / "special_tokens_map.json").string();

  bool has_added_tokens = false;
  if (fs::exists(config_path)) {
    const io::Json j = read_object_file(config_path);
    read_special_tokens(j, cfg, config_path);
    cfg.model_max_length = read_max_length(j, cfg.model_max_length, config_path);
    auto added = j.find("added_tokens_decoder");
    if (added != j.end() && !added->is_null()) {
      cfg.added_tokens = read_added_tokens(*added, config_path);
      has_added_tokens = true;
    }
  }
  if (!has_added_tokens && fs::exists(map_path)) {
    read_special_tokens(read_object_file(map_path), cfg, map_path);
  }
  return cfg;
}

}  // namespace sd::text
