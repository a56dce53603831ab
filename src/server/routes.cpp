#include "server/routes.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>

#include "core/dtype.h"
#include "core/log.h"
#include "server/api_error.h"
#include "server/auth.h"
#include "server/job_registry.h"
#include "server/job_request.h"
#include "server/lora_names.h"
#include "server/sse_stream.h"
#include "server/timestamp.h"
#include "server/version.h"
#include "server/web_assets.h"
#include "server/worker_config.h"
#include "server/worker_state.h"

namespace sd::server {

namespace {

using nlohmann::json;

constexpr int kLoadingRetryAfterS = 5;
constexpr int kQueueFullRetryAfterS = 5;
constexpr const char* kJobPath = R"(/v1/jobs/([^/]+))";
constexpr const char* kJobStreamPath = R"(/v1/jobs/([^/]+)/stream)";

bool is_json_content_type(const httplib::Request& req) {
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json";
}

std::string not_ready_reason(Phase phase) {
  switch (phase) {
    case Phase::Loading: return "model loading";
    case Phase::Stopping: return "shutting down";
    case Phase::Failed: return "model failed to load";
    case Phase::Ready: break;
  }
  return "ready";
}

ApiError not_ready(Phase phase) {
  return {503, "not_ready", "the worker is not ready: " + not_ready_reason(phase), "", kLoadingRetryAfterS};
}

class Routes {
 public:
  Routes(const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state)
      : cfg_(cfg), registry_(registry), state_(state) {}

  httplib::Server::HandlerResponse authorize(const httplib::Request& req, httplib::Response& res) const {
    if (cfg_.api_token.empty() || req.path == "/health" || is_public_page_request(req))
      return httplib::Server::HandlerResponse::Unhandled;
    if (bearer_token_matches(req.get_header_value("Authorization"), cfg_.api_token))
      return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    // The body (if any) is left unread, so the connection cannot carry another request.
    res.set_header("Connection", "close");
    send_error(res, {401, "unauthorized", "missing or invalid bearer token"});
    return httplib::Server::HandlerResponse::Handled;
  }

  void health(const httplib::Request&, httplib::Response& res) const {
    send_json(res, 200, {{"status", "healthy"}, {"timestamp", rfc3339()}});
  }

  void ready(const httplib::Request&, httplib::Response& res) const {
    Phase phase = state_.phase();
    if (phase == Phase::Ready) {
      send_json(res, 200, {{"ready", true}, {"worker_id", cfg_.worker_id}, {"model", cfg_.model_id()},
                           {"queue_length", registry_.queue_length()}});
      return;
    }
    res.set_header("Retry-After", std::to_string(kLoadingRetryAfterS));
    send_json(res, 503, {{"ready", false}, {"reason", not_ready_reason(phase)}});
  }

  void info(const httplib::Request&, httplib::Response& res) const {
    auto model = state_.model();
    json out = {{"worker_id", cfg_.worker_id},
                {"implementation", kImplementation},
                {"version", worker_version()},
                {"ready", state_.phase() == Phase::Ready},
                {"model", cfg_.model_id()},
                {"model_path", cfg_.model_path},
                {"sd_version", model ? model->version : cfg_.sd_version},
                {"device", model ? model->device : cfg_.device},
                {"dtype", std::string(dtype_name(model ? model->dtype : cfg_.dtype))},
                {"capabilities", {"image_generation", "image_transform", "image_inpaint"}},
                {"samplers", model ? model->samplers : std::vector<std::string>{}},
                {"schedules", model ? model->schedules : std::vector<std::string>{}},
                {"preview_modes", model ? model->preview_modes : std::vector<std::string>{}},
                {"decoders", model ? model->decoders : std::vector<std::string>{}},
                {"loras", lora_names(cfg_.lora_dir)},
                {"queue_length", registry_.queue_length()},
                {"queue_capacity", registry_.queue_capacity()},
                {"running", registry_.has_running_job() ? 1 : 0}};
    if (model)
      out["defaults"] = {{"steps", model->default_steps},      {"guidance_scale", model->default_guidance},
                         {"width", model->native_width},       {"height", model->native_height},
                         {"sampler", model->default_sampler}};
    send_json(res, 200, out);
  }

  void submit(const httplib::Request& req, httplib::Response& res) const {
    if (!is_json_content_type(req)) {
      send_error(res, {415, "unsupported_media_type", "Content-Type must be application/json"});
      return;
    }
    auto model = state_.model();
    Phase phase = state_.phase();
    if (phase != Phase::Ready || !model) {
      send_error(res, not_ready(phase));
      return;
    }
    JobSpec spec;
    try {
      spec = parse_job_request(parse_job_body(req.body), *model, request_policy(cfg_));
    } catch (const InvalidArgument& e) {
      send_error(res, {400, "invalid_argument", e.what(), e.field()});
      return;
    }
    json echo = spec.echo;
    auto submitted = registry_.submit(std::move(spec));
    if (submitted.status == JobRegistry::SubmitStatus::QueueFull) {
      send_error(res, {429, "queue_full", "the job queue is full (" + std::to_string(registry_.queue_capacity()) + " jobs)",
                       "", kQueueFullRetryAfterS});
      return;
    }
    if (submitted.status == JobRegistry::SubmitStatus::ShuttingDown) {
      send_error(res, not_ready(Phase::Stopping));
      return;
    }
    const std::string& id = submitted.job->id;
    log_info("job " + id + " queued");
    json out = {{"job_id", id}, {"sse_url", "/v1/jobs/" + id + "/stream"}};
    out.update(echo);
    send_json(res, 200, out);
  }

  void status(const httplib::Request& req, httplib::Response& res) const {
    if (auto job = find(req, res)) send_json(res, 200, registry_.status_json(*job));
  }

  void stream(const httplib::Request& req, httplib::Response& res) const {
    if (auto job = find(req, res)) stream_job_events(res, registry_, job, cfg_.keepalive_interval);
  }

  void cancel(const httplib::Request& req, httplib::Response& res) const {
    auto job = find(req, res);
    if (!job) return;
    switch (registry_.cancel(*job)) {
      case JobRegistry::CancelOutcome::Cancelled:
        log_info("job " + job->id + " cancelled");
        send_json(res, 200, {{"job_id", job->id}, {"status", "cancelled"}});
        break;
      case JobRegistry::CancelOutcome::Cancelling:
        log_info("job " + job->id + " cancelling");
        send_json(res, 200, {{"job_id", job->id}, {"status", "cancelling"}});
        break;
      case JobRegistry::CancelOutcome::AlreadyFinished:
        send_error(res, {409, "job_finished", "job " + job->id + " has already finished"});
        break;
    }
  }

  // GET /: the page for browsers, the health JSON for everyone else.
  void root(const httplib::Request& req, httplib::Response& res) const {
    res.set_header("Vary", "Accept");
    if (wants_page(req))
      web_asset(req, res);
    else
      health(req, res);
  }

  // A file of the embedded web page (web_assets.h).
  void web_asset(const httplib::Request& req, httplib::Response& res) const {
    auto answer = answer_web_request(req.path, req.get_header_value("If-None-Match"));
    if (!answer) return send_error(res, {404, "not_found", "no file " + req.path});
    for (const auto& [name, value] : answer->headers) res.set_header(std::string(name), std::string(value));
    res.status = answer->status;
    if (!answer->body.empty())
      res.set_content(reinterpret_cast<const char*>(answer->body.data()), answer->body.size(),
                      std::string(answer->content_type));
  }

  // Fills in a JSON body for answers httplib makes itself (unknown route, body too large).
  void error_body(const httplib::Request& req, httplib::Response& res) const {
    if (!res.body.empty() || res.is_chunked_content_provider_) return;
    if (res.status == 404)
      send_error(res, {404, "not_found", "no route for " + req.method + " " + req.path});
    else if (res.status == 413)
      send_error(res, {413, "payload_too_large",
                       "the request body is over the limit of " + std::to_string(cfg_.max_body_bytes) + " bytes"});
    else
      send_error(res, {res.status, "http_error", "HTTP " + std::to_string(res.status)});
  }

 private:
  static bool wants_page(const httplib::Request& req) {
    return req.path == "/" && accepts_html(req.get_header_value("Accept"));
  }
  static bool is_public_page_request(const httplib::Request& req) {
    return wants_page(req) || is_public_asset_path(req.path);
  }

  std::shared_ptr<Job> find(const httplib::Request& req, httplib::Response& res) const {
    std::string id = req.matches[1];
    auto job = registry_.find(id);
    if (!job) send_error(res, {404, "not_found", "no job " + id});
    return job;
  }

  const WorkerConfig& cfg_;
  JobRegistry& registry_;
  WorkerState& state_;
};

}  // namespace

void install_routes(httplib::Server& svr, const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  auto routes = std::make_shared<Routes>(cfg, registry, state);
  svr.set_payload_max_length(cfg.max_body_bytes);
  svr.set_pre_routing_handler([routes](Req req, Res res) { return routes->authorize(req, res); });
  svr.Get("/", [routes](Req req, Res res) { routes->root(req, res); });
  svr.Get("/assets/[^/]+", [routes](Req req, Res res) { routes->web_asset(req, res); });
  svr.Get("/health", [routes](Req req, Res res) { routes->health(req, res); });
  svr.Get("/ready", [routes](Req req, Res res) { routes->ready(req, res); });
  svr.Get("/info", [routes](Req req, Res res) { routes->info(req, res); });
  svr.Post("/v1/jobs", [routes](Req req, Res res) { routes->submit(req, res); });
  svr.Get(kJobStreamPath, [routes](Req req, Res res) { routes->stream(req, res); });
  svr.Get(kJobPath, [routes](Req req, Res res) { routes->status(req, res); });
  svr.Delete(kJobPath, [routes](Req req, Res res) { routes->cancel(req, res); });
  svr.set_error_handler([routes](Req req, Res res) { routes->error_body(req, res); });
  svr.set_exception_handler([](Req req, Res res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log_error(req.method + " " + req.path + ": " + what);
    send_error(res, {500, "internal", what});
  });
}

}  // namespace sd::server
