#include "server/job_request.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>

#include "core/error.h"
#include "io/image.h"
#include "io/json_bounded.h"
#include "pipeline/lora_location.h"
#include "pipeline/memory_admission.h"
#include "pipeline/noise_source.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/request_limits.h"
#include "sampling/scheduler_factory.h"

namespace sd::server {

namespace {

using nlohmann::json;
using pipeline::Operation;

constexpr int kMaxSteps = 150;
constexpr int kMinSize = 64, kMaxSize = 2048;
constexpr size_t kMaxLoras = 16;
constexpr double kMaxExactDouble = 9007199254740992.0;  // 2^53

// How a value appears in an error message: short, JSON-spelled.
std::string describe(const json& v) {
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// The value of `key`, or nullptr when absent or null (null means "use the default").
const json* field(const json& body, const char* key) {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

// Integers may arrive as integral floats (20.0 from Python); beyond 2^53 a float is not exact.
std::optional<int64_t> as_integer(const json& v) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    return u > uint64_t(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max() : int64_t(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::fabs(d) <= kMaxExactDouble) return int64_t(d);
  }
  return std::nullopt;
}

int get_int(const json& body, const char* key, int lo, int hi, int fallback) {
  const json* v = field(body, key);
  if (!v) return fallback;
  auto i = as_integer(*v);
  if (!i) throw InvalidArgument(key, std::string(key) + " must be an integer, got " + describe(*v));
  if (*i < lo || *i > hi)
    throw InvalidArgument(key, std::string(key) + " must be between " + std::to_string(lo) + " and " +
                                   std::to_string(hi) + ", got " + describe(*v));
  return int(*i);
}

// `name` is how the field is reported ("strength", "loras[0].strength").
double get_number(const json& body, const std::string& key, const std::string& name, double lo, double hi,
                  double fallback) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw InvalidArgument(name, name + " must be a number, got " + describe(*it));
  double d = it->get<double>();
  if (!(d >= lo && d <= hi))
    throw InvalidArgument(name, name + " must be between " + number_text(lo) + " and " + number_text(hi) +
                                    ", got " + describe(*it));
  return d;
}

std::optional<std::string> get_string(const json& body, const std::string& key, const std::string& name) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw InvalidArgument(name, name + " must be a string, got " + describe(*it));
  return it->get<std::string>();
}

int get_size(const json& body, const char* key, int fallback) {
  int v = get_int(body, key, kMinSize, kMaxSize, fallback);
  if (v % 8 != 0) throw InvalidArgument(key, std::string(key) + " must be a multiple of 8, got " + std::to_string(v));
  return v;
}

uint64_t get_seed(const json& body) {
  const json* v = field(body, "seed");
  if (!v) {
    std::random_device rd;
    return (uint64_t(rd()) << 32) | rd();
  }
  if (v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0)) return v->get<uint64_t>();
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (std::floor(d) == d && d >= 0 && d <= kMaxExactDouble) return uint64_t(d);
  }
  if (v->is_number())
    throw InvalidArgument("seed", "seed must be an integer between 0 and 18446744073709551615, got " + describe(*v));
  throw InvalidArgument("seed", "seed must be an integer or null, got " + describe(*v));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string one_of(const json& body, const char* key, const std::vector<std::string>& allowed,
                   const std::string& fallback) {
  auto v = get_string(body, key, key);
  if (!v) return fallback;
  std::string name = lower(*v);
  if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) return name;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw InvalidArgument(key, std::string(key) + " must be one of " + list + ", got " + describe(*body.find(key)));
}

void check_prompt(const std::string& name, const std::string& text) {
  try {
    pipeline::check_prompt(name, text);
  } catch (const Error& e) {
    throw InvalidArgument(name, e.what());
  }
}

// Some samplers have fewer schedules than the model lists (pndm: default only).
void check_schedule_fits_sampler(const std::string& sampler, const std::string& schedule) {
  std::vector<std::string> fits;
  try {
    fits = sampling::schedules_for(sampler);
  } catch (const Error& e) {
    throw InvalidArgument("sampler", std::string("sampler: ") + e.what());
  }
  if (std::find(fits.begin(), fits.end(), schedule) != fits.end()) return;
  std::string list;
  for (const auto& f : fits) list += (list.empty() ? "" : ", ") + f;
  throw InvalidArgument("schedule", "schedule " + schedule + " does not work with sampler " + sampler +
                                        "; it takes " + list);
}

Operation parse_operation(const json& body, std::string& name) {
  auto op = get_string(body, "operation", "operation");
  if (!op) throw InvalidArgument("operation", "operation is required (image_generation, image_transform or image_inpaint)");
  name = *op;
  if (name == "image_generation") return Operation::Txt2Img;
  if (name == "image_transform") return Operation::Img2Img;
  if (name == "image_inpaint") return Operation::Inpaint;
  throw InvalidArgument("operation", "operation must be one of image_generation, image_transform, image_inpaint, got " +
                                         describe(*body.find("operation")));
}

io::Image decode_field_image(const std::string& name, const std::string& text, int channels) {
  std::vector<uint8_t> bytes;
  try {
    bytes = io::base64_decode(text);
  } catch (const Error& e) {
    throw InvalidArgument(name, name + " is not valid base64: " + e.what());
  }
  try {
    return pipeline::decode_input_image(name, bytes, channels);
  } catch (const Error& e) {
    throw InvalidArgument(name, e.what());
  }
}

// input_image, or its alias init_image; required by the operations that transform an image.
std::optional<io::Image> input_image(const json& body, bool required) {
  const char* key = body.contains("input_image") && !body["input_image"].is_null() ? "input_image" : "init_image";
  auto text = get_string(body, key, key);
  if (!text) {
    if (required) throw InvalidArgument("input_image", "input_image is required for this operation");
    return std::nullopt;
  }
  return decode_field_image(key, *text, 3);
}

std::vector<pipeline::LoraSpec> parse_loras(const json& body, const RequestPolicy& policy) {
  const json* list = field(body, "loras");
  if (!list) return {};
  if (!list->is_array()) throw InvalidArgument("loras", "loras must be an array, got " + describe(*list));
  if (list->size() > kMaxLoras)
    throw InvalidArgument("loras", "loras must hold at most " + std::to_string(kMaxLoras) + " entries, got " +
                                       std::to_string(list->size()));
  std::vector<pipeline::LoraSpec> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    std::string at = "loras[" + std::to_string(i) + "]";
    if (!item.is_object()) throw InvalidArgument(at, at + " must be an object, got " + describe(item));
    pipeline::LoraSpec spec;
    spec.strength = float(get_number(item, "strength", at + ".strength", -10, 10, 1.0));
    auto path = get_string(item, "path", at + ".path");
    auto name = path ? std::nullopt : get_string(item, "name", at + ".name");
    if (!path && !name) throw InvalidArgument(at, at + " needs \"path\" or \"name\"");
    const std::string key = at + (path ? ".path" : ".name");
    try {
      spec.path = pipeline::resolve_lora_reference(path ? *path : *name,
                                                   path ? pipeline::LoraReference::Path : pipeline::LoraReference::Name,
                                                   policy.lora_dirs);
    } catch (const Error& e) {
      throw InvalidArgument(key, key + ": " + e.what());
    }
    out.push_back(std::move(spec));
  }
  return out;
}

int size_from_image(int image_size) { return std::clamp(image_size / 8 * 8, kMinSize, kMaxSize); }

}  // namespace

RequestPolicy request_policy(const WorkerConfig& cfg) {
  RequestPolicy p;
  p.lora_dirs = cfg.lora_dirs;
  p.preview = cfg.preview;
  p.preview_every = cfg.preview_every;
  p.vae_tiling = cfg.vae_tiling;
  p.vae_tile_size = cfg.vae_tile_size;
  p.max_memory = cfg.max_memory;
  return p;
}

JobSpec parse_job_request(const json& body, const pipeline::ModelInfo& model, const RequestPolicy& policy) {
  if (!body.is_object()) throw InvalidArgument("body", "the request body must be a JSON object, got " + describe(body));
  JobSpec spec;
  auto& r = spec.request;
  r.operation = parse_operation(body, spec.operation);

  auto prompt = get_string(body, "prompt", "prompt");
  if (!prompt) throw InvalidArgument("prompt", "prompt is required");
  if (prompt->empty()) throw InvalidArgument("prompt", "prompt must not be empty");
  r.prompt = *prompt;
  r.negative_prompt = get_string(body, "negative_prompt", "negative_prompt").value_or("");
  check_prompt("prompt", r.prompt);
  check_prompt("negative_prompt", r.negative_prompt);

  r.steps = get_int(body, "steps", 1, kMaxSteps, model.default_steps);
  r.guidance_scale = float(get_number(body, "guidance_scale", "guidance_scale", 0, 30, model.default_guidance));
  r.seed = get_seed(body);
  r.batch_size = get_int(body, "num_images", 1, pipeline::kMaxImagesPerRequest, r.batch_size);
  r.rng = *pipeline::parse_noise_source(
      one_of(body, "rng", pipeline::noise_source_names(), pipeline::noise_source_name(r.rng)));
  std::vector<std::string> samplers = model.samplers;
  if (samplers.empty()) samplers.push_back(model.default_sampler);
  r.sampler = one_of(body, "sampler", samplers, model.default_sampler);
  std::vector<std::string> schedules = model.schedules;
  if (schedules.empty()) schedules.push_back("default");
  r.schedule = one_of(body, "schedule", schedules, "default");
  check_schedule_fits_sampler(r.sampler, r.schedule);
  // Inpainting repaints the masked area from pure noise unless told otherwise (diffusers).
  const double default_strength = r.operation == Operation::Inpaint ? 1.0 : r.strength;
  r.strength = get_number(body, "strength", "strength", 0, 1, default_strength);
  r.clip_skip = get_int(body, "clip_skip", 1, std::min(12, model.max_clip_skip), r.clip_skip);
  r.loras = parse_loras(body, policy);

  // Sizes given explicitly are checked before any image is decoded.
  std::optional<int> width, height;
  if (field(body, "width")) width = get_size(body, "width", 0);
  if (field(body, "height")) height = get_size(body, "height", 0);

  bool uses_image = r.operation != Operation::Txt2Img;
  if (uses_image) {
    r.init_image = input_image(body, true);
    if (r.operation == Operation::Inpaint) {
      auto mask = get_string(body, "mask_image", "mask_image");
      if (!mask) throw InvalidArgument("mask_image", "mask_image is required for image_inpaint");
      r.mask_image = decode_field_image("mask_image", *mask, 1);
    }
  }
  // diffusers runs int(steps * strength) steps of an image job: none is an error.
  if (r.operation != Operation::Txt2Img && int(double(r.steps) * r.strength) < 1)
    throw InvalidArgument("strength", "strength " + number_text(r.strength) + " with " + std::to_string(r.steps) +
                                          " steps leaves no step to run");
  // An image to transform sets the default size; otherwise the model's native size.
  r.width = width.value_or(uses_image ? size_from_image(r.init_image->width) : model.native_width);
  r.height = height.value_or(uses_image ? size_from_image(r.init_image->height) : model.native_height);

  // Per-job preview and final-decoder choices, within what the worker has loaded.
  std::vector<std::string> previews = model.preview_modes;
  if (previews.empty()) previews = {"none", "latent"};
  const std::string preview =
      one_of(body, "preview", previews, pipeline::preview_mode_name(policy.preview));
  r.preview = *pipeline::parse_preview_mode(preview);
  r.preview_every = get_int(body, "preview_every", 1, kMaxSteps, policy.preview_every);
  std::vector<std::string> decoders = model.decoders;
  if (decoders.empty()) decoders = {"vae"};
  r.decoder = one_of(body, "decoder", decoders, "vae") == "taesd" ? pipeline::FinalDecoder::Taesd
                                                                   : pipeline::FinalDecoder::Vae;
  r.vae_tiling = policy.vae_tiling;
  r.vae_tile_size = policy.vae_tile_size;

  // Last: the estimate depends on everything above.
  try {
    pipeline::admit_job_memory(r, model, pipeline::memory_available_to_process(policy.max_memory));
  } catch (const pipeline::MemoryRefused& e) {
    throw InvalidArgument("memory", e.what());
  }

  spec.echo = json::object();
  for (const char* key : {"hive_id", "model", "worker_id"})
    if (auto v = get_string(body, key, key)) spec.echo[key] = *v;
  return spec;
}

json parse_job_body(std::string_view text) {
  try {
    return io::parse_json_bounded(text);
  } catch (const Error& e) {
    throw InvalidArgument("body", std::string("the request body: ") + e.what());
  }
}

}  // namespace sd::server
