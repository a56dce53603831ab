#include "io/json_file.h"

#include "core/error.h"
#include "io/json_bounded.h"
#include "io/read_file.h"

namespace sd::io {

Json parse_json_text(const std::string& text, const std::string& what) {
  // The largest JSON the engine reads, CLIP's vocabulary, has about 100k values.
  constexpr JsonLimits kLimits{32, size_t(1) << 20, kMaxJsonFileBytes};
  try {
    return parse_json_bounded(text, kLimits);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

Json read_json_file(const std::string& path) {
  return parse_json_text(read_file_bounded(path, kMaxJsonFileBytes, "a JSON file"), path);
}

template <class T>
T json_get(const Json& j, const std::string& key, const T& fallback, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(what + ": \"" + key + "\" has the wrong type (" + it->type_name() + ")");
  }
}

template int json_get<int>(const Json&, const std::string&, const int&, const std::string&);
template int64_t json_get<int64_t>(const Json&, const std::string&, const int64_t&, const std::string&);
template float json_get<float>(const Json&, const std::string&, const float&, const std::string&);
template double json_get<double>(const Json&, const std::string&, const double&, const std::string&);
template bool json_get<bool>(const Json&, const std::string&, const bool&, const std::string&);
template std::string json_get<std::string>(const Json&, const std::string&, const std::string&,
                                           const std::string&);
template std::vector<int> json_get<std::vector<int>>(const Json&, const std::string&,
                                                     const std::vector<int>&, const std::string&);
template std::vector<std::string> json_get<std::vector<std::string>>(
    const Json&, const std::string&, const std::vector<std::string>&, const std::string&);

std::vector<int> json_int_list(const Json& j, const std::string& key, size_t n,
                               const std::vector<int>& fallback, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_number_integer()) return std::vector<int>(n, it->get<int>());
  if (it->is_array()) {
    std::vector<int> v;
    for (auto& e : *it) {
      if (!e.is_number_integer()) throw Error(what + ": \"" + key + "\" holds a non-integer");
      v.push_back(e.get<int>());
    }
    if (v.size() != n)
      throw Error(what + ": \"" + key + "\" has " + std::to_string(v.size()) + " entries, expected " +
                  std::to_string(n));
    return v;
  }
  throw Error(what + ": \"" + key + "\" is neither an integer nor a list");
}

}  // namespace sd::io
