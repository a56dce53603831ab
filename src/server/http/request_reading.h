#pragma once
// The framing rules of http::Server's request reading, apart from its sockets: what a
// failed read of the head or the body answers, and the Request a parsed head becomes.
// The connection (connection.cpp) reads with them, and so does the HTTP-framing fuzzer
// (tests/fuzz/fuzz_http_framing.cpp), which drives the same Beast parsers over its bytes.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <cstddef>
#include <optional>

#include "server/api_error.h"
#include "server/http/message.h"

namespace sd::server::http {

enum class ReadStage { Head, Body };

// The answer to a read that failed at `stage`, sent before the connection closes (413 over
// the body limit, 431 for oversized headers, 408 for a body that stalls, 400 for malformed
// framing), or nullopt when the client left, or stalled before its head was complete: the
// connection then closes without one.
std::optional<ApiError> answer_to_read_error(boost::beast::error_code ec, ReadStage stage, size_t max_body_bytes);

// A head Beast parses but that HTTP/1.1 refuses (RFC 9112 sections 3.2 and 6.1), mostly
// because a proxy in front of the worker could frame it otherwise. Transfer-Encoding must
// be exactly chunked: any other coding is 501 (the worker decodes none, and for "chunked,
// identity" Beast reads no body and takes the bytes after the head for the next request);
// chunked twice, a malformed list, or any Transfer-Encoding in HTTP/1.0 is 400. So is an
// HTTP/1.1 request without exactly one Host. Answered before the body is read, and the
// connection closed.
std::optional<ApiError> framing_refusal(const boost::beast::http::request_header<>& head);

// Fills req's method, path, query and headers from a parsed head; false when the request
// target is not an origin-form path with valid escapes (a 400).
bool request_from_head(const boost::beast::http::request_header<>& head, Request& req);

}  // namespace sd::server::http
