#include "models/config_checks.h"

#include "core/error.h"

namespace sd::models {

void require_supported(const io::Json& j, const std::string& key,
                       std::initializer_list<io::Json> supported, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  for (const auto& s : supported)
    if (*it == s) return;
  std::string list;
  for (const auto& s : supported) list += (list.empty() ? "" : ", ") + s.dump();
  throw Error(what + ": \"" + key + "\" = " + it->dump() + " is not supported (supported: " +
              (list.empty() ? "absent or null" : list) + ")");
}

void require_each_in(const std::vector<std::string>& values, const std::string& key,
                     std::initializer_list<const char*> supported, const std::string& what) {
  for (const auto& v : values) {
    bool ok = false;
    for (const char* s : supported) ok = ok || v == s;
    if (!ok) {
      std::string list;
      for (const char* s : supported) list += (list.empty() ? "" : ", ") + std::string(s);
      throw Error(what + ": \"" + key + "\" contains \"" + v + "\", which is not supported (supported: " +
                  list + ")");
    }
  }
}

int require_positive(int v, const std::string& key, const std::string& what) {
  if (v <= 0) throw Error(what + ": \"" + key + "\" must be positive, got " + std::to_string(v));
  return v;
}

int square_sample_size(const io::Json& j, int fallback, const std::string& what) {
  auto it = j.find("sample_size");
  if (it == j.end() || !it->is_array())
    return require_positive(io::json_get(j, "sample_size", fallback, what), "sample_size", what);
  const auto hw = io::json_get<std::vector<int>>(j, "sample_size", {}, what);
  if (hw.size() != 2 || hw[0] != hw[1])
    throw Error(what + ": \"sample_size\" " + it->dump() + " must be one number or a square [h, w]");
  return require_positive(hw[0], "sample_size", what);
}

std::vector<int> positive_int_list(const io::Json& j, const std::string& key, size_t n,
                                   const std::vector<int>& fallback, const std::string& what) {
  std::vector<int> v = io::json_int_list(j, key, n, fallback, what);
  for (int x : v) require_positive(x, key, what);
  return v;
}

}  // namespace sd::models
