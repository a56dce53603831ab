#include "server/a1111_routes.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/log.h"
#include "io/image.h"
#include "pipeline/noise_source.h"
#include "pipeline/sampler_names.h"
#include "server/a1111_calls.h"
#include "server/a1111_infotext.h"
#include "server/a1111_request.h"
#include "server/a1111_response.h"
#include "server/api_error.h"
#include "server/job_registry.h"
#include "server/jobs_answer.h"
#include "server/lora_names.h"
#include "server/worker_config.h"
#include "server/worker_state.h"

namespace sd::server {

namespace {

using nlohmann::json;
using http::Request;
using http::Response;

constexpr int kRetryAfterS = 5;

void send_a1111_error(Response& res, int status, const std::string& detail) {
  send_json(res, status, a1111_error_body(status, detail));
}

void send_unprocessable(Response& res, const A1111FieldError& e) { send_json(res, 422, {{"detail", e.detail()}}); }

// FastAPI reads a body as JSON when its type is application/json or application/*+json, or
// when it has none; any other type is not a dict.
bool body_may_be_json(const Request& req) {
  std::string type = req.header("Content-Type");
  type = type.substr(0, type.find(';'));
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type.empty() || type == "application/json" ||
         (type.rfind("application/", 0) == 0 && type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
}

// The checkpoint as A1111 names it: the file (or folder) name, and that without extension.
struct Checkpoint {
  std::string title;
  std::string model_name;
  std::string filename;
};

Checkpoint checkpoint_of(const WorkerConfig& cfg) {
  Checkpoint c;
  c.filename = !cfg.model_path.empty() ? cfg.model_path : cfg.model_id();
  std::filesystem::path p(c.filename);
  if (!p.has_filename()) p = p.parent_path();
  c.title = p.filename().string();
  c.model_name = p.stem().string();
  if (c.title.empty()) c.title = c.model_name = cfg.model_id();
  return c;
}

class A1111Routes {
 public:
  A1111Routes(const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state)
      : cfg_(cfg), registry_(registry), state_(state), checkpoint_(checkpoint_of(cfg)) {}

  void txt2img(const Request& req, Response& res) { generate(req, res, A1111Mode::Txt2Img); }
  void img2img(const Request& req, Response& res) { generate(req, res, A1111Mode::Img2Img); }

  void progress(const Request& req, Response& res) {
    A1111ProgressState s;
    if (auto call = current_call()) {
      s.active = true;
      s.job = call->kind;
      s.job_count = int(call->jobs.size());
      s.job_timestamp = call->timestamp;
      s.interrupted = call->interrupted;
      s.skipped = call->skipped;
      s.seconds_running = std::chrono::duration<double>(std::chrono::steady_clock::now() - call->started).count();
      auto current = std::find_if(call->jobs.begin(), call->jobs.end(),
                                  [&](const auto& job) { return !registry_.has_ended(*job); });
      s.job_no = int(current - call->jobs.begin());
      if (current != call->jobs.end()) {
        json status = registry_.status_json(**current);
        s.sampling_step = status.value("step", 0);
        s.sampling_steps = status.value("total", (*current)->spec.request.steps);
        const bool skip_image = req.query.count("skip_current_image") && req.query.at("skip_current_image") == "true";
        if (!skip_image) {
          std::string preview = registry_.latest_preview_image(**current);
          if (!preview.empty()) s.current_image = std::move(preview);
        }
      }
    }
    send_json(res, 200, a1111_progress_answer(s));
  }

  // Stops the call in progress: its queued images are dropped, the running one stops
  // before its next step; the call answers with the images finished before.
  void interrupt(const Request&, Response& res) {
    if (auto call = current_call()) {
      call->interrupted = true;
      for (const auto& job : call->jobs) registry_.cancel(*job);
      log_info("a1111 " + call->kind + " interrupted");
    }
    send_json(res, 200, json::object());
  }

  // Stops the image being made; the call goes on with its next one.
  void skip(const Request&, Response& res) {
    if (auto call = current_call()) {
      for (const auto& job : call->jobs)
        if (!registry_.has_ended(*job)) {
          call->skipped = true;
          registry_.cancel(*job);
          break;
        }
    }
    send_json(res, 200, nullptr);
  }

  void get_options(const Request&, Response& res) {
    A1111Settings s = settings();
    auto model = state_.model();
    int clip = s.clip_stop_at_last_layers > 0 ? s.clip_stop_at_last_layers : 1;
    send_json(res, 200,
              {{"sd_model_checkpoint", checkpoint_.title},
               {"sd_checkpoint_hash", nullptr},
               {"CLIP_stop_at_last_layers", clip},
               {"randn_source", s.randn_source == pipeline::NoiseSource::Philox ? "GPU" : "CPU"},
               {"samples_format", "png"},
               {"sd_vae", "Automatic"},
               {"eta_noise_seed_delta", 0}});
  }

  void set_options(const Request& req, Response& res) {
    try {
      json body = parse_a1111_body(req.body);
      if (!check_checkpoint(body, res)) return;
      std::lock_guard<std::mutex> lock(settings_mu_);
      A1111Settings next = settings_;
      apply_a1111_options(body, json::array({"body"}), next);
      settings_ = next;
    } catch (const A1111FieldError& e) {
      return send_unprocessable(res, e);
    }
    send_json(res, 200, nullptr);
  }

  void sd_models(const Request&, Response& res) const {
    send_json(res, 200,
              json::array({{{"title", checkpoint_.title},
                            {"model_name", checkpoint_.model_name},
                            {"hash", nullptr},
                            {"sha256", nullptr},
                            {"filename", checkpoint_.filename},
                            {"config", nullptr}}}));
  }

  // The pipeline's name table in A1111's shapes: display names, our ids among the aliases.
  void samplers(const Request&, Response& res) const {
    json out = json::array();
    for (const auto& row : pipeline::sampler_names_table()) {
      json aliases = json::array({row.id});
      for (const char* a : row.aliases) aliases.push_back(a);
      out.push_back({{"name", row.display_name}, {"aliases", aliases}, {"options", json::object()}});
    }
    send_json(res, 200, out);
  }

  void schedulers(const Request&, Response& res) const {
    json out = json::array();
    for (const auto& row : pipeline::schedule_names_table()) {
      std::string name = row.display_name;
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      json aliases = json::array({row.id});
      for (const char* a : row.aliases) aliases.push_back(a);
      out.push_back({{"name", name}, {"label", row.display_name}, {"aliases", aliases}, {"default_rho", -1},
                     {"need_inner_model", false}});
    }
    send_json(res, 200, out);
  }

  void loras(const Request&, Response& res) const {
    json out = json::array();
    for (const auto& name : lora_names(cfg_.lora_dirs))
      out.push_back({{"name", name}, {"alias", name}, {"path", name + ".safetensors"}, {"metadata", json::object()}});
    send_json(res, 200, out);
  }

  // What this worker has none of: upscalers, extensions, styles, face restorers,
  // hypernetworks, latent upscale modes (no hires fix), VAEs to choose (the VAE is fixed at
  // start, the model's or --vae).
  void empty_list(const Request&, Response& res) const { send_json(res, 200, json::array()); }

  // A1111's shape: each embedding by name, with the fields of its training run (none here).
  void embeddings(const Request&, Response& res) const {
    json loaded = json::object(), skipped = json::object();
    const auto list = [](const std::vector<pipeline::EmbeddingInfo>& all, json& out) {
      for (const auto& e : all)
        out[e.name] = {{"step", nullptr}, {"sd_checkpoint", nullptr}, {"sd_checkpoint_name", nullptr},
                       {"shape", e.width}, {"vectors", e.vectors}};
    };
    if (const auto model = state_.model()) {
      list(model->embeddings, loaded);
      list(model->skipped_embeddings, skipped);
    }
    send_json(res, 200, {{"loaded", loaded}, {"skipped", skipped}});
  }

  // The model is fixed at start and the LoRA folder is listed anew on every call: a
  // refresh finds nothing new, and answers as A1111's does.
  void refresh(const Request&, Response& res) const { send_json(res, 200, nullptr); }

  void scripts(const Request&, Response& res) const {
    send_json(res, 200, {{"txt2img", json::array()}, {"img2img", json::array()}});
  }

  void png_info(const Request& req, Response& res) const {
    try {
      json body = parse_a1111_body(req.body);
      auto it = body.find("image");
      if (it == body.end() || it->is_null())
        throw A1111FieldError(json::array({"body", "image"}), "field required", "value_error.missing");
      if (!it->is_string()) throw A1111FieldError(json::array({"body", "image"}), "str type expected", "type_error.str");
      std::vector<uint8_t> bytes;
      io::TextChunks chunks;
      try {
        bytes = io::base64_decode(it->get<std::string>());
        chunks = io::read_png_text(bytes.data(), bytes.size(), size_t(4096) * 4096);
      } catch (const Error& e) {
        return send_a1111_error(res, 400, std::string("Invalid encoded image: ") + e.what());
      }
      std::string info;
      json items = json::object();
      for (const auto& [key, value] : chunks) {
        if (key == "parameters" && info.empty())
          info = value;
        else
          items[key] = value;
      }
      send_json(res, 200, {{"info", info}, {"items", items}, {"parameters", parse_a1111_infotext(info)}});
    } catch (const A1111FieldError& e) {
      send_unprocessable(res, e);
    }
  }

 private:
  // The oldest call with an image still to make. A call whose client left is never
  // answered (its images are made all the same, as A1111 does): it goes once they are.
  std::shared_ptr<A1111Call> current_call() {
    return calls_.current([&](const A1111Call& call) {
      return std::all_of(call.jobs.begin(), call.jobs.end(), [&](const auto& job) { return registry_.has_ended(*job); });
    });
  }

  A1111Settings settings() const {
    std::lock_guard<std::mutex> lock(settings_mu_);
    return settings_;
  }

  // sd_model_checkpoint must name the model this worker holds: it cannot load another.
  bool check_checkpoint(const json& options, Response& res) const {
    auto it = options.find("sd_model_checkpoint");
    if (it == options.end() || it->is_null()) return true;
    if (!it->is_string())
      throw A1111FieldError(json::array({"body", "sd_model_checkpoint"}), "str type expected", "type_error.str");
    const std::string name = it->get<std::string>();
    const bool ours = name == checkpoint_.title || name == checkpoint_.model_name || name == cfg_.model_id() ||
                      name.rfind(checkpoint_.title + " [", 0) == 0;
    if (ours) return true;
    send_a1111_error(res, 400,
                     "model " + json(name).dump() + " is not on this worker: it holds " + json(checkpoint_.title).dump() +
                         " only and cannot load another");
    return false;
  }

  void generate(const Request& req, Response& res, A1111Mode mode) {
    auto model = state_.model();
    if (state_.phase() != Phase::Ready || !model) {
      res.headers.set("Retry-After", std::to_string(kRetryAfterS));
      return send_a1111_error(res, 503, "the worker is not ready (model loading or shutting down)");
    }
    A1111Generation gen;
    try {
      if (!body_may_be_json(req))
        throw A1111FieldError(json::array({"body"}), "value is not a valid dict", "type_error.dict");
      json body = parse_a1111_body(req.body);
      if (auto it = body.find("override_settings"); it != body.end() && it->is_object())
        if (!check_checkpoint(*it, res)) return;
      gen = parse_a1111_generation(body, mode, settings(), *model, request_policy(cfg_));
    } catch (const A1111FieldError& e) {
      return send_unprocessable(res, e);
    }

    auto call = std::make_shared<A1111Call>();
    call->kind = mode == A1111Mode::Txt2Img ? "txt2img" : "img2img";
    call->timestamp = a1111_timestamp(std::chrono::system_clock::now());
    for (const auto& spec : gen.jobs) {
      auto submitted = registry_.submit(spec);
      if (submitted.status != JobRegistry::SubmitStatus::Accepted) {
        for (const auto& job : call->jobs) registry_.cancel(*job);
        res.headers.set("Retry-After", std::to_string(kRetryAfterS));
        if (submitted.status == JobRegistry::SubmitStatus::QueueFull)
          return send_a1111_error(res, 429, "the job queue has no room for " + std::to_string(gen.jobs.size()) +
                                                " images (capacity " + std::to_string(registry_.queue_capacity()) + ")");
        return send_a1111_error(res, 503, "the worker is shutting down");
      }
      call->jobs.push_back(submitted.job);
    }
    log_info("a1111 " + call->kind + ": " + std::to_string(call->jobs.size()) + " image(s) queued, first job " +
             call->jobs.front()->id);
    calls_.add(call);
    auto shared_gen = std::make_shared<A1111Generation>(std::move(gen));
    res.deferred = std::make_shared<JobsAnswer>(registry_, call->jobs, [this, call, shared_gen] {
      calls_.remove(call.get());
      return answer(*call, *shared_gen);
    });
  }

  // After every job of the call has ended: the finished images in order, or the first
  // failure.
  Response answer(const A1111Call& call, const A1111Generation& gen) {
    Response res;
    std::vector<A1111Image> images;
    for (const auto& job : call.jobs) {
      json status = registry_.status_json(*job);
      const std::string state = status.value("status", "");
      if (state == "failed") {
        send_a1111_error(res, 500, "job " + job->id + " failed: " + status.value("error", ""));
        return res;
      }
      if (state != "completed") continue;  // interrupted, skipped, or cancelled at shutdown
      for (const json& done : status.value("images", json::array({status}))) {
        A1111Image image;
        image.png_base64 = done.value("image", "");
        image.seed = done.value("seed", uint64_t(0));
        for (const auto& [key, value] : io::read_png_text(io::base64_decode(image.png_base64)))
          if (key == "parameters") image.infotext = value;
        images.push_back(std::move(image));
      }
    }
    send_json(res, 200, a1111_generation_answer(gen, images, checkpoint_.model_name, call.timestamp));
    return res;
  }

  const WorkerConfig& cfg_;
  JobRegistry& registry_;
  WorkerState& state_;
  const Checkpoint checkpoint_;
  A1111Calls calls_;
  mutable std::mutex settings_mu_;
  A1111Settings settings_;
};

}  // namespace

void install_a1111_routes(http::Router& router, const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state) {
  auto routes = std::make_shared<A1111Routes>(cfg, registry, state);
  auto to = [routes](auto method) {
    return [routes, method](const Request& req, Response& res) { ((*routes).*method)(req, res); };
  };
  router.add("POST", "/sdapi/v1/txt2img", to(&A1111Routes::txt2img));
  router.add("POST", "/sdapi/v1/img2img", to(&A1111Routes::img2img));
  router.add("GET", "/sdapi/v1/progress", to(&A1111Routes::progress));
  router.add("POST", "/sdapi/v1/interrupt", to(&A1111Routes::interrupt));
  router.add("POST", "/sdapi/v1/skip", to(&A1111Routes::skip));
  router.add("GET", "/sdapi/v1/options", to(&A1111Routes::get_options));
  router.add("POST", "/sdapi/v1/options", to(&A1111Routes::set_options));
  router.add("GET", "/sdapi/v1/sd-models", to(&A1111Routes::sd_models));
  router.add("GET", "/sdapi/v1/samplers", to(&A1111Routes::samplers));
  router.add("GET", "/sdapi/v1/schedulers", to(&A1111Routes::schedulers));
  router.add("GET", "/sdapi/v1/loras", to(&A1111Routes::loras));
  router.add("GET", "/sdapi/v1/embeddings", to(&A1111Routes::embeddings));
  for (const char* none : {"upscalers", "extensions", "prompt-styles", "face-restorers", "realesrgan-models",
                           "hypernetworks", "latent-upscale-modes", "sd-vae"})
    router.add("GET", std::string("/sdapi/v1/") + none, to(&A1111Routes::empty_list));
  for (const char* refreshed : {"refresh-checkpoints", "refresh-vae", "refresh-loras"})
    router.add("POST", std::string("/sdapi/v1/") + refreshed, to(&A1111Routes::refresh));
  router.add("GET", "/sdapi/v1/scripts", to(&A1111Routes::scripts));
  router.add("POST", "/sdapi/v1/png-info", to(&A1111Routes::png_info));
}

}  // namespace sd::server
