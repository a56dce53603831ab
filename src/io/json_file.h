#pragma once
// Reading JSON files (model configs) with errors that name the file, and typed access
// to optional keys that diffusers configs write as absent, null, a scalar or a list.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sd::io {

using Json = nlohmann::json;

// The largest JSON file read, with room to spare: CLIP's vocabulary, the largest the engine
// reads, is 1 MB.
inline constexpr size_t kMaxJsonFileBytes = size_t(16) << 20;

// Parses a whole file, refusing one over kMaxJsonFileBytes unread, and text that nests or
// counts values beyond what any config holds; throws sd::Error "<path>: <problem>".
Json read_json_file(const std::string& path);
Json parse_json_text(const std::string& text, const std::string& what);

// j[key] as T, or `fallback` when absent or null; throws sd::Error naming `what` and the
// key when present with the wrong type.
template <class T>
T json_get(const Json& j, const std::string& key, const T& fallback, const std::string& what);

// An int-or-list field (e.g. attention_head_dim): a scalar is repeated `n` times.
std::vector<int> json_int_list(const Json& j, const std::string& key, size_t n,
                               const std::vector<int>& fallback, const std::string& what);

}  // namespace sd::io
