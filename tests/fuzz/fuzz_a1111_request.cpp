// AUTOMATIC1111 bodies (POST /sdapi/v1/txt2img, /img2img, /options): the bounded JSON parse,
// A1111's field types, then the worker's own job check behind them (with its base64 and
// image decoding), against a model like the tiny SD1.5 one; and the png-info text parser
// on the same bytes. Anything but A1111FieldError escaping would be a 500 or a crash.
#include "server/a1111_infotext.h"
#include "server/a1111_request.h"

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
  static const sd::pipeline::ModelInfo info = model();
  static const sd::server::RequestPolicy policy{.lora_dirs = {"/nonexistent-lora-dir"}};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sd::server::parse_a1111_infotext(std::string(text));
  try {
    const auto body = sd::server::parse_a1111_body(text);
    sd::server::A1111Settings settings;
    try {
      sd::server::apply_a1111_options(body, nlohmann::json::array({"body"}), settings);
    } catch (const sd::server::A1111FieldError&) {
    }
    for (auto mode : {sd::server::A1111Mode::Txt2Img, sd::server::A1111Mode::Img2Img}) {
      try {
        sd::server::parse_a1111_generation(body, mode, settings, info, policy);
      } catch (const sd::server::A1111FieldError&) {
      }
    }
  } catch (const sd::server::A1111FieldError& e) {
    e.detail();
  }
  return 0;
}
