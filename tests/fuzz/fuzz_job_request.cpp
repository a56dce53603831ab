// POST /v1/jobs bodies: the JSON parse with its depth limit, then every field checked
// against the contract (worker-api.md section 2) and a model like the tiny SD1.5 one.
// Input images inside the body are decoded too (base64, PNG/JPEG). Anything but
// InvalidArgument escaping would be a 500 (or a crash) in the worker.
#include "core/error.h"
#include "server/job_request.h"

namespace {

sd::pipeline::ModelInfo model() {
  sd::pipeline::ModelInfo m;
  m.version = "v1-5";
  m.preview_modes = {"none", "latent", "taesd"};
  m.decoders = {"vae", "taesd"};
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const sd::pipeline::ModelInfo info = model();
  // LoRAs resolve only inside this folder list; files that are not there are refused.
  static const sd::server::RequestPolicy policy{.lora_dirs = {"/nonexistent-lora-dir"}};
  try {
    const auto body = sd::server::parse_job_body(std::string_view(reinterpret_cast<const char*>(data), size));
    sd::server::parse_job_request(body, info, policy);
  } catch (const sd::server::InvalidArgument&) {
  }
  return 0;
}
