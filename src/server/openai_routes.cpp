#include "server/openai_routes.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "io/image.h"
#include "io/json_bounded.h"
#include "io/multipart_form.h"
#include "server/api_error.h"
#include "server/auth.h"
#include "server/job_registry.h"
#include "server/openai_answer.h"
#include "server/openai_error.h"
#include "server/openai_request.h"
#include "server/worker_config.h"
#include "server/worker_state.h"

namespace sd::server {

namespace {

using http::Request;
using http::Response;
using nlohmann::json;

constexpr int kRetryAfterS = 5;

std::string media_type(const Request& req) {
  std::string type = req.header("Content-Type");
  type = type.substr(0, type.find(';'));
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class OpenAiRoutes {
 public:
  OpenAiRoutes(const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state)
      : cfg_(cfg),
        registry_(registry),
        state_(state),
        model_id_(openai_model_id(cfg.model, cfg.model_path, cfg.sd_version)),
        started_(unix_seconds()) {}

  // The same token rule as every route, refused in OpenAI's shape (the SDKs' AuthenticationError).
  std::optional<Response> authorize(const Request& req) const {
    if (cfg_.api_token.empty() || bearer_token_matches(req.header("Authorization"), cfg_.api_token)) return std::nullopt;
    Response res;
    res.headers.set("WWW-Authenticate", "Bearer");
    send_openai_error(res, {401, "Incorrect API key provided: the worker's --api-token is expected as a bearer token.",
                            "invalid_request_error", "", "invalid_api_key"});
    return res;
  }

  void generations(const Request& req, Response& res) const {
    answer_errors(res, [&] {
      if (media_type(req) != "application/json")
        throw OpenAiRequestError({415, "Content-Type must be application/json.", "invalid_request_error", "", ""});
      auto model = ready_model();
      json body;
      try {
        body = io::parse_json_bounded(req.body);
      } catch (const Error& e) {
        throw invalid_openai_value("", std::string("Invalid request body: ") + e.what(), "");
      }
      submit(req, res, parse_openai_generation(body, model_id_, model->limits), *model);
    });
  }

  void edits(const Request& req, Response& res) const {
    answer_errors(res, [&] {
      auto model = ready_model();
      std::vector<io::FormPart> parts;
      try {
        parts = io::parse_multipart_form(req.body, io::multipart_boundary(req.header("Content-Type")));
      } catch (const Error& e) {
        if (media_type(req) != "multipart/form-data")
          throw OpenAiRequestError({415, "Content-Type must be multipart/form-data.", "invalid_request_error", "", ""});
        throw invalid_openai_value("", std::string("The multipart body cannot be read: ") + e.what(), "");
      }
      submit(req, res, parse_openai_edit(parts, model_id_, model->limits), *model);
    });
  }

  // GET /v1/images/files/{job id}.png (.jpeg/.webp?quality=Q: the same image in that format)
  void image_file(const Request& req, Response& res) const {
    const std::string name = req.param("name");
    const size_t dot = name.rfind('.');
    const auto named =
        dot == std::string::npos ? std::nullopt : io::image_format_from_name(std::string_view(name).substr(dot + 1));
    const io::ImageFormat format = named.value_or(io::ImageFormat::Png);
    int quality = 100;
    if (auto q = req.query.find("quality"); q != req.query.end()) {
      const auto& text = q->second;
      if (text.empty() || text.size() > 3 || text.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(text) > 100)
        return send_openai_error(res, {400, "quality must be an integer 0..100", "invalid_request_error", "quality",
                                       "invalid_value"});
      quality = std::stoi(text);
    }
    const auto image = named ? openai_image_name(std::string_view(name).substr(0, dot)) : std::nullopt;
    std::shared_ptr<Job> job = image ? registry_.find(image->first) : nullptr;
    json status = job ? registry_.status_json(*job) : json::object();
    const json* found = nullptr;
    if (status.value("status", "") == "completed" && status.contains("images"))
      for (const json& one : status["images"])
        if (one.value("index", 0) == image->second) found = &one;
    if (!found) {
      send_openai_error(res, {404,
                              "No image " + name + ": images are kept for " +
                                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(cfg_.job_retention).count()) +
                                  " s after they are made.",
                              "invalid_request_error", "", "not_found"});
      return;
    }
    const std::vector<uint8_t> bytes =
        openai_image_bytes(io::base64_decode((*found)["image"].get<std::string>()), format, quality);
    res.status = 200;
    res.headers.set("Content-Type", std::string("image/") + openai_format_name(format));
    res.headers.set("Cache-Control", "private");
    res.body.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  void models(const Request&, Response& res) const {
    send_json(res, 200, {{"object", "list"}, {"data", json::array({model_object()})}});
  }

  // GET /v1/models/{id}; a Hugging Face repo id ("org/name") spans two segments.
  void model(const Request& req, Response& res) const {
    std::string id = req.param("id");
    if (!req.param("name").empty()) id = req.param("org") + "/" + req.param("name");
    if (id == model_id_) return send_json(res, 200, model_object());
    send_openai_error(res, {404, "The model '" + id + "' does not exist on this worker; it serves '" + model_id_ + "'.",
                            "invalid_request_error", "model", "model_not_found"});
  }

 private:
  template <class Fn>
  static void answer_errors(Response& res, Fn fn) {
    try {
      fn();
    } catch (const OpenAiRequestError& e) {
      res = Response();
      send_openai_error(res, e.error());
    }
  }

  json model_object() const {
    return {{"id", model_id_}, {"object", "model"}, {"created", started_}, {"owned_by", "sd-worker"}};
  }

  std::shared_ptr<const pipeline::ModelInfo> ready_model() const {
    auto model = state_.model();
    if (state_.phase() != Phase::Ready || !model)
      throw OpenAiRequestError({503, "The worker is not ready (its model is loading, failed to load, or it is stopping).",
                                "server_error", "", "not_ready", kRetryAfterS});
    return model;
  }

  // The URL the client reached the worker at, for `url` answers.
  std::string base_url(const Request& req) const {
    std::string host = req.header("Host");
    const bool plausible = !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(".-:[]_", c);
    });
    if (!plausible) host = cfg_.host + ":" + std::to_string(cfg_.port);
    return (req.header("X-Forwarded-Proto") == "https" ? "https://" : "http://") + host;
  }

  // The n images as one batch job, seeds seed, seed+1, ... (as A1111 numbers a batch).
  void submit(const Request& req, Response& res, const OpenAiImageRequest& request,
              const pipeline::ModelInfo& model) const {
    auto submitted = registry_.submit(openai_job_spec(request, model, request_policy(cfg_)));
    if (submitted.status == JobRegistry::SubmitStatus::QueueFull)
      throw OpenAiRequestError({429,
                                "The worker's job queue is full (" + std::to_string(registry_.queue_capacity()) +
                                    " jobs); retry later.",
                                "requests", "", "rate_limit_exceeded", kRetryAfterS});
    if (submitted.status != JobRegistry::SubmitStatus::Accepted)
      throw OpenAiRequestError({503, "The worker is shutting down.", "server_error", "", "not_ready", kRetryAfterS});
    log_info("job " + submitted.job->id + " queued (OpenAI " + submitted.job->spec.operation + ", " +
             std::to_string(request.n) + " image" + (request.n == 1 ? "" : "s") + ")");
    res.deferred = std::make_shared<OpenAiImagesAnswer>(registry_, std::move(submitted.job), request, base_url(req));
  }

  const WorkerConfig& cfg_;
  JobRegistry& registry_;
  WorkerState& state_;
  const std::string model_id_;
  const int64_t started_;
};

}  // namespace

void install_openai_routes(http::Router& router, const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state) {
  auto routes = std::make_shared<OpenAiRoutes>(cfg, registry, state);
  auto to = [routes](void (OpenAiRoutes::*method)(const Request&, Response&) const) {
    return [routes, method](const Request& req, Response& res) { ((*routes).*method)(req, res); };
  };
  auto guard = [routes](const Request& req) { return routes->authorize(req); };
  router.set_guard("/v1/images", guard);
  router.set_guard("/v1/models", guard);
  router.add("POST", "/v1/images/generations", to(&OpenAiRoutes::generations));
  router.add("POST", "/v1/images/edits", to(&OpenAiRoutes::edits));
  router.add("GET", "/v1/images/files/{name}", to(&OpenAiRoutes::image_file));
  router.add("GET", "/v1/models", to(&OpenAiRoutes::models));
  router.add("GET", "/v1/models/{id}", to(&OpenAiRoutes::model));
  router.add("GET", "/v1/models/{org}/{name}", to(&OpenAiRoutes::model));
}

}  // namespace sd::server
