#include "server/http/request_reading.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <string>

#include "server/http/target.h"

namespace sd::server::http {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

ApiError too_large(size_t max_body_bytes) {
  return {413, "payload_too_large",
          "the request body is over the limit of " + std::to_string(max_body_bytes) + " bytes"};
}

}  // namespace

std::optional<ApiError> answer_to_read_error(beast::error_code ec, ReadStage stage, size_t max_body_bytes) {
  if (ec == bhttp::error::body_limit) return too_large(max_body_bytes);
  if (stage == ReadStage::Head) {
    if (ec == bhttp::error::header_limit) return ApiError{431, "headers_too_large", "the request headers are too large"};
    // The client left, or was too slow to finish its headers.
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
      return std::nullopt;
    return ApiError{400, "bad_request", "malformed HTTP request: " + ec.message()};
  }
  if (ec == beast::error::timeout) return ApiError{408, "request_timeout", "the request body did not arrive in time"};
  if (ec == bhttp::error::partial_message || ec == net::error::eof || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted)
    return std::nullopt;
  return ApiError{400, "bad_request", "malformed HTTP request body: " + ec.message()};
}

std::optional<ApiError> framing_refusal(const bhttp::request_header<>& head) {
  const size_t hosts = head.count(bhttp::field::host);
  if (hosts > 1 || (hosts == 0 && head.version() >= 11))
    return ApiError{400, "bad_request", "malformed HTTP request: an HTTP/1.1 request has exactly one Host header"};
  if (head.count(bhttp::field::transfer_encoding) == 0) return std::nullopt;
  const ApiError bad{400, "bad_request", "malformed HTTP request: bad Transfer-Encoding"};
  if (head.version() < 11) return bad;
  size_t codings = 0;
  const auto [first, last] = head.equal_range(bhttp::field::transfer_encoding);
  for (auto field = first; field != last; ++field) {
    const bhttp::opt_token_list list(field->value());
    if (!bhttp::validate_list(list)) return bad;
    for (const auto& coding : list) {
      if (!beast::iequals(coding, "chunked"))
        return ApiError{501, "not_implemented",
                        "the transfer coding " + std::string(view(coding)) +
                            " is not supported: send the body as is or chunked"};
      ++codings;
    }
  }
  if (codings != 1) return bad;
  return std::nullopt;
}

bool request_from_head(const bhttp::request_header<>& head, Request& req) {
  req.method = std::string(view(head.method_string()));
  auto target = parse_target(view(head.target()));
  if (!target) return false;
  req.path = std::move(target->path);
  req.query = std::move(target->query);
  for (const auto& field : head) req.headers.add(std::string(view(field.name_string())), std::string(view(field.value())));
  return true;
}

}  // namespace sd::server::http
