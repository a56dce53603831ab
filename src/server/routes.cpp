#include "server/routes.h"

#include <algorithm>
#include <cctype>

#include "core/buffer_pool.h"
#include "core/dtype.h"
#include "core/log.h"
#include "pipeline/sampler_names.h"
#include "pipeline/memory_admission.h"
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

using http::Request;
using http::Response;

bool is_json_content_type(const Request& req) {
  std::string type = req.header("Content-Type");
  type = type.substr(0, type.find(';'));
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json";
}

// The pipeline's sampler and schedule names: "samplers"/"schedules" list the ids (what
// the web page and older clients read), "sampler_names"/"schedule_names" every name a
// request may use, with the display name A1111 shows.
template <class Row>
json name_rows(const std::vector<Row>& table) {
  json out = json::array();
  for (const Row& row : table) {
    json aliases = json::array();
    for (const char* a : row.aliases) aliases.push_back(a);
    out.push_back({{"id", row.id}, {"name", row.display_name}, {"aliases", aliases}});
  }
  return out;
}

json sampler_rows() {
  json out = name_rows(pipeline::sampler_names_table());
  for (size_t i = 0; i < out.size(); ++i) {
    json schedules = json::array();
    for (pipeline::Schedule s : pipeline::schedules_for(pipeline::sampler_names_table()[i].sampler))
      schedules.push_back(pipeline::schedule_id(s));
    out[i]["schedules"] = schedules;
  }
  return out;
}

json ids(const json& rows) {
  json out = json::array();
  for (const json& row : rows) out.push_back(row["id"]);
  return out;
}

json embedding_names(const std::vector<pipeline::EmbeddingInfo>& embeddings) {
  json out = json::array();
  for (const auto& e : embeddings) out.push_back(e.name);
  return out;
}

json limits_json(const pipeline::RequestLimits& l) {
  return {{"steps", {{"min", l.min_steps}, {"max", l.max_steps}}},
          {"width", {{"min", l.min_size}, {"max", l.max_size}, {"multiple_of", l.size_multiple}}},
          {"height", {{"min", l.min_size}, {"max", l.max_size}, {"multiple_of", l.size_multiple}}},
          {"guidance_scale", {{"min", l.min_guidance}, {"max", l.max_guidance}}},
          {"strength", {{"above", 0}, {"max", l.max_strength}}},
          {"clip_skip", {{"min", 1}, {"max", l.max_clip_skip}}},
          {"loras", {{"max", l.max_loras}, {"strength_min", -l.max_lora_strength}, {"strength_max", l.max_lora_strength}}},
          {"images", {{"min", 1}, {"max", l.max_images}}},
          {"preview_every", {{"min", 0}, {"max", l.max_steps}}},
          {"prompt_bytes", {{"max", l.max_prompt_bytes}}}};
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

  // Sees the headers only: a request without the token is refused before its body is read.
  std::optional<Response> authorize(const Request& req) const {
    if (cfg_.api_token.empty() || req.path == "/health" || is_public_page_request(req)) return std::nullopt;
    if (cfg_.public_metrics && req.path == "/metrics") return std::nullopt;
    if (authorization_matches(req.header("Authorization"), cfg_.api_token)) return std::nullopt;
    Response res;
    if (req.path.rfind("/sdapi/", 0) == 0) {
      // AUTOMATIC1111's clients send Basic credentials and read its error shape.
      res.headers.set("WWW-Authenticate", "Basic");
      send_json(res, 401, {{"detail", "Incorrect username or password"}});
      return res;
    }
    res.headers.set("WWW-Authenticate", "Bearer");
    send_error(res, {401, "unauthorized", "missing or invalid bearer token (or Basic credentials with it as the password)"});
    return res;
  }

  void health(const Request&, Response& res) const {
    send_json(res, 200, {{"status", "healthy"}, {"timestamp", rfc3339()}});
  }

  void ready(const Request&, Response& res) const {
    Phase phase = state_.phase();
    if (phase == Phase::Ready) {
      send_json(res, 200, {{"ready", true}, {"worker_id", cfg_.worker_id}, {"model", cfg_.model_id()},
                           {"queue_length", registry_.queue_length()}});
      return;
    }
    res.headers.set("Retry-After", std::to_string(kLoadingRetryAfterS));
    send_json(res, 503, {{"ready", false}, {"reason", not_ready_reason(phase)}});
  }

  void info(const Request&, Response& res) const {
    auto model = state_.model();
    const json samplers = sampler_rows(), schedules = name_rows(pipeline::schedule_names_table());
    json out = {{"worker_id", cfg_.worker_id},
                {"implementation", kImplementation},
                {"version", worker_version()},
                {"ready", state_.phase() == Phase::Ready},
                {"model", cfg_.model_id()},
                {"model_path", cfg_.model_path},
                {"vae", cfg_.vae_path.empty() ? json(nullptr) : json(model ? model->vae_path : cfg_.vae_path)},
                {"sd_version", model ? model->version : cfg_.sd_version},
                {"device", model ? model->device : cfg_.device},
                {"dtype", std::string(dtype_name(model ? model->dtype : cfg_.dtype))},
                {"capabilities", {"image_generation", "image_transform", "image_inpaint"}},
                {"samplers", ids(samplers)},
                {"schedules", ids(schedules)},
                {"sampler_names", samplers},
                {"schedule_names", schedules},
                {"preview_modes", model ? model->preview_modes : std::vector<std::string>{}},
                {"decoders", model ? model->decoders : std::vector<std::string>{}},
                {"loras", lora_names(cfg_.lora_dirs)},
                {"embeddings", model ? embedding_names(model->embeddings) : json::array()},
                {"queue_length", registry_.queue_length()},
                {"queue_capacity", registry_.queue_capacity()},
                {"running", registry_.has_running_job() ? 1 : 0}};
    if (!cfg_.device_name.empty()) {
      out["device_name"] = cfg_.device_name;
      out["device_memory_mb"] = cfg_.device_memory_bytes >> 20;
    }
    if (model) {
      out["defaults"] = {{"steps", model->default_steps},
                         {"guidance_scale", model->default_guidance},
                         {"width", model->native_width},
                         {"height", model->native_height},
                         {"sampler", pipeline::sampler_id(model->default_sampler)},
                         {"schedule", pipeline::schedule_id(pipeline::Schedule::Default)}};
      out["limits"] = limits_json(model->limits);
    }
    send_json(res, 200, out);
  }

  void submit(const Request& req, Response& res) const {
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
      // The native protocol's own rule (worker-api.md: prompt non-empty); the engine, like
      // diffusers and A1111, also draws from an empty prompt.
      if (spec.request.prompt.empty()) throw InvalidArgument("prompt", "prompt must not be empty");
    } catch (const InvalidArgument& e) {
      send_error(res, {400, "invalid_argument", e.what(), e.field()});
      return;
    }
    json echo = spec.echo;
    const std::vector<std::string> warnings = spec.warnings;
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
    for (const std::string& w : warnings) log_warn("job " + id + ": " + w);
    json out = {{"job_id", id}, {"sse_url", "/v1/jobs/" + id + "/stream"}, {"warnings", warnings}};
    out.update(echo);
    send_json(res, 200, out);
  }

  void status(const Request& req, Response& res) const {
    if (auto job = find(req, res)) send_json(res, 200, registry_.status_json(*job));
  }

  void stream(const Request& req, Response& res) const {
    if (auto job = find(req, res)) stream_job_events(res, registry_, job, cfg_.keepalive_interval);
  }

  void cancel(const Request& req, Response& res) const {
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

  // Prometheus' text exposition format (metrics.h).
  void metrics(const Request&, Response& res) const {
    LiveMetrics live = registry_.live_metrics();
    live.resident_bytes = pipeline::process_rss_bytes();
    live.pool = BufferPool::instance().stats();
    res.status = 200;
    res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.body = registry_.metrics().exposition(live);
  }

  // GET /: the page for browsers, the health JSON for everyone else.
  void root(const Request& req, Response& res) const {
    if (wants_page(req))
      web_asset(req, res);
    else
      health(req, res);
    res.headers.set("Vary", "Accept");
  }

  // A file of the embedded web page (web_assets.h).
  void web_asset(const Request& req, Response& res) const {
    auto answer = answer_web_request(req.path, req.header("If-None-Match"));
    if (!answer) return send_error(res, {404, "not_found", "no file " + req.path});
    for (const auto& [name, value] : answer->headers) res.headers.set(std::string(name), std::string(value));
    res.status = answer->status;
    if (!answer->body.empty()) {
      res.headers.set("Content-Type", std::string(answer->content_type));
      res.body.assign(reinterpret_cast<const char*>(answer->body.data()), answer->body.size());
    }
  }

 private:
  static bool wants_page(const Request& req) {
    return req.path == "/" && accepts_html(req.header("Accept"));
  }
  static bool is_public_page_request(const Request& req) {
    return wants_page(req) || is_public_asset_path(req.path);
  }

  std::shared_ptr<Job> find(const Request& req, Response& res) const {
    std::string id = req.param("id");
    auto job = registry_.find(id);
    if (!job) send_error(res, {404, "not_found", "no job " + id});
    return job;
  }

  const WorkerConfig& cfg_;
  JobRegistry& registry_;
  WorkerState& state_;
};

}  // namespace

void install_routes(http::Router& router, const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state) {
  auto routes = std::make_shared<Routes>(cfg, registry, state);
  auto to = [routes](void (Routes::*method)(const Request&, Response&) const) {
    return [routes, method](const Request& req, Response& res) { ((*routes).*method)(req, res); };
  };
  router.set_guard([routes](const Request& req) { return routes->authorize(req); });
  router.add("GET", "/", to(&Routes::root));
  router.add("GET", "/assets/{name}", to(&Routes::web_asset));
  router.add("GET", "/health", to(&Routes::health));
  router.add("GET", "/ready", to(&Routes::ready));
  router.add("GET", "/info", to(&Routes::info));
  router.add("POST", "/v1/jobs", to(&Routes::submit));
  router.add("GET", "/v1/jobs/{id}", to(&Routes::status));
  router.add("GET", "/v1/jobs/{id}/stream", to(&Routes::stream));
  router.add("DELETE", "/v1/jobs/{id}", to(&Routes::cancel));
  router.add("GET", "/metrics", to(&Routes::metrics));
}

}  // namespace sd::server
