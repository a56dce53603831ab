#pragma once
// A small blocking HTTP client over libcurl for the Hub downloader (internal to src/io).
// HTTP error statuses are returned, not thrown; a transfer that produced no complete
// response (refused connection, DNS failure, stall, connection closed mid-body) throws
// HttpTransportError.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace sd::io::detail {

class HttpTransportError : public Error {
 public:
  using Error::Error;
};

struct HttpRequest {
  std::string method = "GET";         // GET or HEAD
  std::string url;
  std::vector<std::string> headers;   // "Name: value"
  bool follow_redirects = false;
  long connect_timeout_s = 10;
  long stall_timeout_s = 60;          // abort when under 1 byte/s for this long
  // Receives the body of the final response with its status; returning false aborts the
  // transfer (HttpTransportError). Without it the body is kept in HttpResponse::body, up
  // to max_body bytes.
  std::function<bool(long status, const char* data, size_t size)> on_body;
  size_t max_body = size_t(64) << 20;
  // Bytes received so far and expected in total (0 when unknown), for this transfer.
  std::function<void(uint64_t now, uint64_t total)> on_progress;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // of the final response; names lower-case
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

HttpResponse http_request(const HttpRequest& req);

// "scheme://host[:port]" of an absolute URL (empty when it has none).
std::string url_origin(const std::string& url);
// Percent-encodes all but unreserved characters (and '/' when keep_slash).
std::string url_quote(const std::string& s, bool keep_slash);

}  // namespace sd::io::detail
