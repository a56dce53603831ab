#include "server/http/message.h"

#include <strings.h>

namespace sd::server::http {

namespace {
bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

void Headers::set(std::string name, std::string value) {
  std::erase_if(fields_, [&](const auto& f) { return same_name(f.first, name); });
  add(std::move(name), std::move(value));
}

std::string Headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (same_name(k, name)) return v;
  return {};
}

bool Headers::has(std::string_view name) const {
  for (const auto& f : fields_)
    if (same_name(f.first, name)) return true;
  return false;
}

std::string Request::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

}  // namespace sd::server::http
