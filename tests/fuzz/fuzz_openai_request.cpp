// The OpenAI images request bodies: with a first byte below 128 the rest is a
// POST /v1/images/generations JSON body; otherwise a /v1/images/edits upload, given as a
// Content-Type line, a newline, then the multipart body. Each goes through the OpenAI
// translation and the native job parse against a model like the tiny SD1.5 one. Anything
// but OpenAiRequestError escaping would be a 500 (or a crash) in the worker.
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/json_bounded.h"
#include "io/multipart_form.h"
#include "server/openai_request.h"

namespace {

sd::pipeline::ModelInfo model() {
  sd::pipeline::ModelInfo m;
  m.version = "v1-5";
  m.preview_modes = {"none", "latent"};
  m.decoders = {"vae"};
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const sd::pipeline::ModelInfo info = model();
  static const sd::server::RequestPolicy policy{.lora_dirs = {"/nonexistent-lora-dir"}};
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  sd::server::OpenAiImageRequest request;
  try {
    if (data[0] < 128) {
      nlohmann::json body;
      try {
        body = sd::io::parse_json_bounded(input);
      } catch (const sd::Error&) {
        return 0;
      }
      request = sd::server::parse_openai_generation(body, "tiny-sd15", info.limits);
    } else {
      const size_t newline = input.find('\n');
      if (newline == std::string_view::npos) return 0;
      std::vector<sd::io::FormPart> parts;
      try {
        parts = sd::io::parse_multipart_form(input.substr(newline + 1),
                                             sd::io::multipart_boundary(input.substr(0, newline)));
      } catch (const sd::Error&) {
        return 0;
      }
      request = sd::server::parse_openai_edit(parts, "tiny-sd15", info.limits);
    }
    if (request.n < 1 || request.n > info.limits.max_images) std::abort();
    const auto spec = sd::server::openai_job_spec(request, info, policy);
    if (spec.request.width < 64 || spec.request.height < 64) std::abort();
  } catch (const sd::server::OpenAiRequestError& e) {
    if (e.error().status < 400 || e.error().status > 499) std::abort();
  }
  return 0;
}
