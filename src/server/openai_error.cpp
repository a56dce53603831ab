#include "server/openai_error.h"

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace sd::server {

namespace {
nlohmann::json or_null(const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); }
}  // namespace

OpenAiRequestError invalid_openai_value(std::string param, std::string message, std::string code) {
  return OpenAiRequestError({400, std::move(message), "invalid_request_error", std::move(param), std::move(code)});
}

void send_openai_error(http::Response& res, const OpenAiError& e) {
  if (e.retry_after_s > 0) res.headers.set("Retry-After", std::to_string(e.retry_after_s));
  send_json(res, e.status,
            {{"error", {{"message", e.message}, {"type", e.type}, {"param", or_null(e.param)}, {"code", or_null(e.code)}}}});
}

}  // namespace sd::server
