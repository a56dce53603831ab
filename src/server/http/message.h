#pragma once
// The request and response the worker's routes see: the project's own small types, so
// routes never depend on the HTTP library underneath (src/server/http/server.h).
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sd::server::http {

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  // Replaces every field of that name.
  void set(std::string name, std::string value);
  // The first value of that name, or "".
  std::string get(std::string_view name) const;
  bool has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  std::string method;                        // "GET", "POST"...
  std::string path;                          // percent-decoded, without the query
  std::map<std::string, std::string> query;  // percent-decoded; the last of repeated names
  std::map<std::string, std::string> params; // from the route pattern: "/v1/jobs/{id}" -> params["id"]
  Headers headers;
  std::string body;
  std::string remote_address;                // the client's IP address

  std::string header(std::string_view name) const { return headers.get(name); }
  std::string param(const std::string& name) const;
};

// A response body produced over time (Server-Sent Events). The server calls start() once on
// its I/O thread, then pull() whenever `wake` was called and the previous data is written.
// `wake` may be called from any thread, any number of times, until the stream is destroyed.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  struct Chunk {
    std::string data;  // empty: nothing new yet
    bool last = false; // nothing follows this data
  };
  virtual void start(std::function<void()> wake) = 0;
  virtual Chunk pull() = 0;
  // Sent after `keepalive_interval` without data, so idle connections and proxies stay open.
  virtual std::string keepalive_text() const = 0;
  virtual std::chrono::milliseconds keepalive_interval() const = 0;
};

struct Response;

// An answer that is not ready when the handler returns: a synchronous API waiting for its
// job, without holding a handler thread or the I/O thread meanwhile. The server calls
// start() once on its I/O thread; the answer calls `ready` once (from any thread) when it
// can be produced; the server then calls take() on its handler pool and sends the result
// as it would a handler's. The client's connection stays open, unread, until then.
class DeferredAnswer {
 public:
  virtual ~DeferredAnswer() = default;
  virtual void start(std::function<void()> ready) = 0;
  virtual Response take() = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // When set, the body is this stream (chunked), and `body` is unused.
  std::shared_ptr<BodyStream> stream;
  // When set, the whole answer is this one's, later; everything else here is unused.
  std::shared_ptr<DeferredAnswer> later;
};

}  // namespace sd::server::http
