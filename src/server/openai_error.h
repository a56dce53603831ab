#pragma once
// Errors of the OpenAI-compatible routes in OpenAI's shape and with its status codes:
// {"error":{"message":"...","type":"invalid_request_error","param":"size","code":"invalid_value"}}
// (param and code null when they do not apply), so the official SDKs raise their own
// error classes (BadRequestError, AuthenticationError, NotFoundError, RateLimitError...).
#include <stdexcept>
#include <string>

#include "server/http/message.h"

namespace sd::server {

struct OpenAiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";  // "server_error", "requests" (rate limits)
  std::string param;                           // the request field at fault; empty = null
  std::string code;                            // "invalid_value", "model_not_found"...; empty = null
  int retry_after_s = 0;                       // > 0: a Retry-After header (429, 503)
};

// Thrown while reading a request; the route answers with it.
class OpenAiRequestError : public std::runtime_error {
 public:
  explicit OpenAiRequestError(OpenAiError e) : std::runtime_error(e.message), error_(std::move(e)) {}
  const OpenAiError& error() const { return error_; }

 private:
  OpenAiError error_;
};

// A 400 invalid_request_error for `param`.
OpenAiRequestError invalid_openai_value(std::string param, std::string message, std::string code = "invalid_value");

void send_openai_error(http::Response& res, const OpenAiError& e);

}  // namespace sd::server
