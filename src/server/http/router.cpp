#include "server/http/router.h"

#include <algorithm>

#include "core/log.h"
#include "server/api_error.h"

namespace sd::server::http {

namespace {
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 1;  // past the leading '/'
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

bool covers(const std::string& prefix, const std::string& path) {
  if (prefix == "/") return true;
  return path.compare(0, prefix.size(), prefix) == 0 && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}
}  // namespace

void Router::add(std::string method, const std::string& pattern, Handler handler) {
  routes_.push_back({std::move(method), split_path(pattern), std::move(handler)});
}

bool Router::match(const Route& route, const std::string& path, std::map<std::string, std::string>& params) {
  auto segments = split_path(path);
  if (segments.size() != route.segments.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route.segments[i];
    if (is_param(want)) {
      if (segments[i].empty()) return false;
      found[want.substr(1, want.size() - 2)] = segments[i];
    } else if (want != segments[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

void Router::set_guard(std::string prefix, Guard guard) {
  for (auto& [p, g] : guards_)
    if (p == prefix) {
      g = std::move(guard);
      return;
    }
  guards_.emplace_back(std::move(prefix), std::move(guard));
}

std::optional<Response> Router::check(const Request& headers_only) const {
  const Guard* best = nullptr;
  size_t best_length = 0;
  for (const auto& [prefix, guard] : guards_)
    if (covers(prefix, headers_only.path) && (!best || prefix.size() > best_length)) {
      best = &guard;
      best_length = prefix.size();
    }
  if (best && *best)
    if (auto refusal = (*best)(headers_only)) return refusal;
  std::map<std::string, std::string> params;
  Response unrouted;
  if (!find(headers_only, &params, &unrouted)) return unrouted;
  return std::nullopt;
}

const Router::Route* Router::find(const Request& req, std::map<std::string, std::string>* params,
                                  Response* unrouted) const {
  std::vector<std::string> allowed;
  for (const auto& route : routes_) {
    if (!match(route, req.path, *params)) continue;
    if (route.method == req.method) return &route;
    if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) allowed.push_back(route.method);
  }
  if (allowed.empty()) {
    send_error(*unrouted, {404, "not_found", "no route for " + req.method + " " + req.path});
  } else {
    std::string list;
    for (const auto& method : allowed) list += (list.empty() ? "" : ", ") + method;
    send_error(*unrouted, {405, "method_not_allowed", req.path + " answers " + list + ", not " + req.method});
    unrouted->headers.set("Allow", list);
  }
  return nullptr;
}

Response Router::handle(Request& req) const {
  Response res;
  const Route* route = find(req, &req.params, &res);
  if (!route) return res;
  try {
    route->handler(req, res);
  } catch (const std::exception& e) {
    log_error(req.method + " " + req.path + ": " + e.what());
    res = Response();
    send_error(res, {500, "internal", e.what()});
  }
  return res;
}

}  // namespace sd::server::http
