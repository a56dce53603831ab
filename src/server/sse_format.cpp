#include "server/sse_format.h"

namespace sd::server {

namespace {
std::string one_line(std::string_view text) {
  std::string s(text);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}
}  // namespace

std::string sse_event(std::string_view name, nlohmann::json data) {
  data["type"] = std::string(name);
  data["event"] = std::string(name);
  // dump() escapes control characters, so the JSON is always one line.
  return "event: " + one_line(name) + "\ndata: " + data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n\n";
}

std::string sse_data(std::string_view text) { return "data: " + one_line(text) + "\n\n"; }

std::string sse_comment(std::string_view text) { return ": " + one_line(text) + "\n\n"; }

std::string_view sse_event_data(std::string_view message) {
  constexpr std::string_view tag = "\ndata: ";
  size_t at = message.find(tag);
  if (at == std::string_view::npos) return {};
  std::string_view rest = message.substr(at + tag.size());
  size_t end = rest.find('\n');
  return end == std::string_view::npos ? rest : rest.substr(0, end);
}

std::string error_marker(std::string_view message) { return "[ERROR] " + one_line(message); }

}  // namespace sd::server
