#include "server/auth.h"

#include <cctype>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/error.h"
#include "io/image.h"

namespace sd::server {

bool constant_time_equal(std::string_view expected, std::string_view given) {
  unsigned diff = expected.size() != given.size() ? 1u : 0u;
  for (size_t i = 0; i < expected.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(expected[i]) ^ g;
  }
  return diff == 0;
}

namespace {

// The credentials after "<scheme> " (scheme compared case-insensitively), trimmed; nullopt
// for another scheme.
std::optional<std::string_view> credentials(std::string_view authorization, std::string_view scheme) {
  if (authorization.size() < scheme.size()) return std::nullopt;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return std::nullopt;
  std::string_view given = authorization.substr(scheme.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  while (!given.empty() && (given.back() == ' ' || given.back() == '\t')) given.remove_suffix(1);
  return given;
}

// Far beyond any user:password a client sends; a longer header is not decoded.
constexpr size_t kMaxBasicCredentials = 4096;

}  // namespace

bool bearer_token_matches(std::string_view authorization, std::string_view token) {
  auto given = credentials(authorization, "bearer ");
  return given && constant_time_equal(token, *given);
}

bool basic_password_matches(std::string_view authorization, std::string_view token) {
  auto given = credentials(authorization, "basic ");
  if (!given || given->size() > kMaxBasicCredentials) return false;
  std::vector<uint8_t> decoded;
  try {
    decoded = io::base64_decode(*given);
  } catch (const Error&) {
    return false;
  }
  std::string_view pair(reinterpret_cast<const char*>(decoded.data()), decoded.size());
  size_t colon = pair.find(':');
  if (colon == std::string_view::npos) return false;
  return constant_time_equal(token, pair.substr(colon + 1));
}

bool authorization_matches(std::string_view authorization, std::string_view token) {
  return bearer_token_matches(authorization, token) || basic_password_matches(authorization, token);
}

}  // namespace sd::server
