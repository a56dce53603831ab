#include "server/api_error.h"

#include <httplib.h>

namespace sd::server {

nlohmann::json error_body(const ApiError& e) {
  nlohmann::json err = {{"code", e.code}};
  if (!e.field.empty()) err["field"] = e.field;
  err["message"] = e.message;
  return {{"error", err}};
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  // Replace: invalid UTF-8 in an echoed value must not turn an answer into an exception.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
  send_json(res, e.status, error_body(e));
}

}  // namespace sd::server
