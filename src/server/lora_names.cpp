#include "server/lora_names.h"

#include <algorithm>
#include <filesystem>

namespace sd::server {

std::vector<std::string> lora_names(const std::vector<std::string>& dirs) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (p.extension() != ".safetensors" || !it->is_regular_file(ec)) continue;
      names.push_back(p.stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.size() > kMaxListedLoras) names.resize(kMaxListedLoras);
  return names;
}

}  // namespace sd::server
