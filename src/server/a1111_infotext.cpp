#include "server/a1111_infotext.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace sd::server {

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ' ' || c == '-' || c == '/';
}

// A1111's re_param, by hand (a backtracking regex over untrusted text could exhaust the
// stack): `key: value` pairs separated by commas, a value quoted or up to the next comma.
std::vector<std::pair<std::string, std::string>> read_params(const std::string& line) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  const size_t n = line.size();
  while (i < n) {
    while (i < n && line[i] == ' ') ++i;
    size_t key_begin = i;
    while (i < n && line[i] != ':' && is_key_char(line[i])) ++i;
    if (i >= n || line[i] != ':' || i == key_begin) break;
    std::string key = trim(line.substr(key_begin, i - key_begin));
    ++i;
    while (i < n && line[i] == ' ') ++i;
    size_t value_begin = i;
    if (i < n && line[i] == '"') {
      ++i;
      while (i < n && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      i = std::min(i + 1, n);
    }
    while (i < n && line[i] != ',') ++i;
    out.emplace_back(key, trim(line.substr(value_begin, i - value_begin)));
    if (i < n) ++i;  // the comma
  }
  return out;
}

}  // namespace

nlohmann::json parse_a1111_infotext(const std::string& text) {
  nlohmann::json out = nlohmann::json::object();
  auto lines = split_lines(trim(text));
  std::string last = lines.empty() ? "" : trim(lines.back());
  auto params = read_params(last);
  // The last line holds the parameters only when it reads like them (A1111: 3 or more).
  if (params.size() >= 3) lines.pop_back();
  else params.clear();

  std::string prompt, negative;
  bool in_negative = false;
  for (const auto& raw : lines) {
    std::string line = trim(raw);
    if (line.rfind("Negative prompt:", 0) == 0) {
      in_negative = true;
      line = trim(line.substr(16));
    }
    std::string& into = in_negative ? negative : prompt;
    into += (into.empty() ? "" : "\n") + line;
  }
  out["Prompt"] = prompt;
  out["Negative prompt"] = negative;
  for (auto& [key, value] : params) {
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      try {
        value = nlohmann::json::parse(value).get<std::string>();
      } catch (const nlohmann::json::exception&) {
        // Not valid JSON quoting: kept as written.
      }
    }
    if (key == "Size") {
      size_t x = value.find('x');
      if (x != std::string::npos) {
        out["Size-1"] = value.substr(0, x);
        out["Size-2"] = value.substr(x + 1);
      }
    }
    out[key] = value;
  }
  return out;
}

}  // namespace sd::server
