#pragma once
// AUTOMATIC1111's txt2img/img2img bodies (sdapi/v1) translated into the worker's jobs. The
// front end checks A1111's syntax (field types, the fields only A1111 has) and writes the
// native job body that /v1/jobs takes; the worker's one request check (job_request.h)
// judges everything else, and its refusal comes back here named by the A1111 field.
// Unknown fields are ignored, as A1111's server does.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/pipeline.h"
#include "server/job_request.h"

namespace sd::server {

// One problem with a request body, reported as FastAPI does with a 422:
// {"detail":[{"loc":["body","steps"],"msg":"value is not a valid integer","type":"type_error.integer"}]}.
class A1111FieldError : public std::runtime_error {
 public:
  A1111FieldError(nlohmann::json loc, const std::string& msg, std::string type, nlohmann::json ctx = nullptr)
      : std::runtime_error(msg), loc_(std::move(loc)), type_(std::move(type)), ctx_(std::move(ctx)) {}
  // The "detail" list of the 422 body.
  nlohmann::json detail() const;

 private:
  nlohmann::json loc_;
  std::string type_;
  nlohmann::json ctx_;
};

// The options (POST /sdapi/v1/options, A1111's shared.opts) that shape later requests.
struct A1111Settings {
  int clip_stop_at_last_layers = 0;  // 0: the model's default
  pipeline::NoiseSource randn_source = pipeline::NoiseSource::TorchCpu;
};

enum class A1111Mode { Txt2Img, Img2Img };

struct A1111Generation {
  A1111Mode mode = A1111Mode::Txt2Img;
  std::vector<JobSpec> jobs;  // one per image, seeds seed, seed+1, ... in A1111's order
  int batch_size = 1;
  int n_iter = 1;
  bool send_images = true;
  nlohmann::json parameters;  // the request as A1111 answers it back (without its images)
};

// The body as JSON; throws A1111FieldError for text that is not (a bounded) JSON object.
nlohmann::json parse_a1111_body(std::string_view text);

// Throws A1111FieldError for wrong types and values out of range.
A1111Generation parse_a1111_generation(const nlohmann::json& body, A1111Mode mode, const A1111Settings& settings,
                                       const pipeline::ModelInfo& model, const RequestPolicy& policy);

// Checks and applies the options A1111 clients set before generating: CLIP_stop_at_last_layers
// and randn_source (here or in a request's override_settings); other options are ignored.
// sd_model_checkpoint is checked by the routes (it names a model this worker must hold).
void apply_a1111_options(const nlohmann::json& options, const nlohmann::json& loc_prefix, A1111Settings& settings);

}  // namespace sd::server
