#pragma once
// Routes by method and path pattern. A pattern is literal segments and "{name}" segments
// ("/v1/jobs/{id}/stream"); each "{name}" matches one non-empty segment and lands in
// Request::params. Adding a route is one line: router.add("GET", "/health", handler).
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/http/message.h"

namespace sd::server::http {

using Handler = std::function<void(const Request&, Response&)>;
// Sees a request whose headers are complete and whose body is not read yet; a response
// refuses the request with it (the body is then never read).
using Guard = std::function<std::optional<Response>(const Request&)>;

class Router {
 public:
  void add(std::string method, const std::string& pattern, Handler handler);
  void set_guard(Guard guard) { set_guard("/", std::move(guard)); }
  // The guard for the paths under `prefix` (whole segments: "/v1/models" covers
  // "/v1/models/x", not "/v1/modelsx"), so each API refuses in its own error format. The
  // longest prefix that covers a path decides alone.
  void set_guard(std::string prefix, Guard guard);

  // The guard's refusal, else 404 for a path no route has and 405 (with Allow) for a
  // method the path's routes lack: all decided before the body is read.
  std::optional<Response> check(const Request& headers_only) const;
  // Runs the matching handler (404 or 405 when none matches, 500 when it throws).
  Response handle(Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" or a literal
    Handler handler;
  };
  static bool match(const Route& route, const std::string& path, std::map<std::string, std::string>& params);
  // The route for req's method and path (its parameters into *params), else nullptr and
  // the answer: 404, or 405 naming the methods the path has.
  const Route* find(const Request& req, std::map<std::string, std::string>* params, Response* unrouted) const;

  std::vector<Route> routes_;
  std::vector<std::pair<std::string, Guard>> guards_;  // by prefix
};

}  // namespace sd::server::http
