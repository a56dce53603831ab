#pragma once
// The request target of an HTTP request line ("/v1/jobs/x%2Fy?a=1&b") split into its
// percent-decoded path and query parameters.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sd::server::http {

// "%41" -> "A"; "+" stays "+" (it only means a space in form bodies); nullopt for a broken escape.
std::optional<std::string> percent_decode(std::string_view text);

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};
// nullopt when the target is not an origin-form path ("/...") or has a broken escape.
std::optional<Target> parse_target(std::string_view target);

}  // namespace sd::server::http
