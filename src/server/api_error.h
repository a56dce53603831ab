#pragma once
// The JSON error answers of worker-api.md section 2:
// {"error":{"code":"invalid_argument","field":"width","message":"..."}}.
#include <nlohmann/json.hpp>
#include <string>

#include "server/http/message.h"

namespace sd::server {

struct ApiError {
  ApiError(int status_, std::string code_, std::string message_, std::string field_ = {}, int retry_after_s_ = 0)
      : status(status_), code(std::move(code_)), message(std::move(message_)), field(std::move(field_)),
        retry_after_s(retry_after_s_) {}
  int status;
  std::string code;           // "invalid_argument", "not_found", "queue_full"...
  std::string message;
  std::string field;          // only for invalid_argument
  int retry_after_s;          // > 0: a Retry-After header (429, 503)
};

nlohmann::json error_body(const ApiError& e);
void send_error(http::Response& res, const ApiError& e);
void send_json(http::Response& res, int status, const nlohmann::json& body);

}  // namespace sd::server
