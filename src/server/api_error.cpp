#include "server/api_error.h"

namespace sd::server {

nlohmann::json error_body(const ApiError& e) {
  nlohmann::json err = {{"code", e.code}};
  if (!e.field.empty()) err["field"] = e.field;
  err["message"] = e.message;
  return {{"error", err}};
}

void send_json(http::Response& res, int status, const nlohmann::json& body) {
  // Replace: invalid UTF-8 in an echoed value must not turn an answer into an exception.
  res.status = status;
  res.headers.set("Content-Type", "application/json");
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void send_error(http::Response& res, const ApiError& e) {
  if (e.retry_after_s > 0) res.headers.set("Retry-After", std::to_string(e.retry_after_s));
  send_json(res, e.status, error_body(e));
}

}  // namespace sd::server
