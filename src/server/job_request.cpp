#include "server/job_request.h"

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "core/error.h"
#include "io/image.h"
#include "io/json_bounded.h"
#include "pipeline/lora_location.h"
#include "pipeline/memory_admission.h"
#include "pipeline/noise_source.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/request_check.h"
#include "pipeline/request_limits.h"
#include "pipeline/sampler_names.h"
#include "server/ignored_fields.h"

namespace sd::server {

namespace {

using nlohmann::json;
using pipeline::Operation;

constexpr double kMaxExactDouble = 9007199254740992.0;  // 2^53
constexpr int64_t kRandomSeed = -1;

// How a value appears in an error message: short, JSON-spelled.
std::string describe(const json& v) {
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
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

// One JSON object's fields, read by type; remembers which were read, so the rest can be
// reported as ignored. Ranges are the pipeline's (check_request); a number that does not
// even fit the request's type is refused here.
class Fields {
 public:
  Fields(const json& body, std::string path) : body_(body), path_(std::move(path)) {}

  // The value of `key`, or nullptr when absent or null (null means "use the default").
  const json* get(const std::string& key) {
    used_.insert(key);
    auto it = body_.find(key);
    return it == body_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<int> integer(const std::string& key) {
    const json* v = get(key);
    if (!v) return std::nullopt;
    auto i = as_integer(*v);
    if (!i) throw InvalidArgument(name(key), name(key) + " must be an integer, got " + describe(*v));
    if (*i < std::numeric_limits<int>::min() || *i > std::numeric_limits<int>::max())
      throw InvalidArgument(name(key), name(key) + " is out of range, got " + describe(*v));
    return int(*i);
  }

  std::optional<double> number(const std::string& key) {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) throw InvalidArgument(name(key), name(key) + " must be a number, got " + describe(*v));
    return v->get<double>();
  }

  // A number held in a float: one beyond its range is refused rather than made infinite.
  std::optional<float> single(const std::string& key) {
    auto d = number(key);
    if (d && !(std::fabs(*d) <= double(FLT_MAX)))
      throw InvalidArgument(name(key), name(key) + " is out of range, got " + describe(*get(key)));
    return d ? std::optional<float>(float(*d)) : std::nullopt;
  }

  std::optional<std::string> string(const std::string& key) {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) throw InvalidArgument(name(key), name(key) + " must be a string, got " + describe(*v));
    return v->get<std::string>();
  }

  // One of `allowed` (case-insensitive), or `fallback` when absent.
  std::string one_of(const std::string& key, const std::vector<std::string>& allowed, const std::string& fallback) {
    auto v = string(key);
    if (!v) return fallback;
    std::string value = lower(*v);
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw InvalidArgument(name(key), name(key) + " must be one of " + list + ", got " + describe(*get(key)));
  }

  std::string name(const std::string& key) const { return path_ + key; }
  const std::set<std::string>& used() const { return used_; }

 private:
  const json& body_;
  std::string path_;
  std::set<std::string> used_;
};

uint64_t parse_seed(Fields& f) {
  const json* v = f.get("seed");
  if (!v) return pipeline::pick_random_seed();
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer() && v->get<int64_t>() >= 0) return uint64_t(v->get<int64_t>());
  if (v->is_number_integer() && v->get<int64_t>() == kRandomSeed) return pipeline::pick_random_seed();
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (d == double(kRandomSeed)) return pipeline::pick_random_seed();
    if (std::floor(d) == d && d >= 0 && d <= kMaxExactDouble) return uint64_t(d);
  }
  if (v->is_number())
    throw InvalidArgument("seed", "seed must be -1 (random) or an integer between 0 and 18446744073709551615, got " +
                                      describe(*v));
  throw InvalidArgument("seed", "seed must be an integer or null, got " + describe(*v));
}

// sampler and schedule by any name in the pipeline's table; a combined A1111 name such
// as "DPM++ 2M Karras" sets the schedule too.
void parse_sampler(Fields& f, const pipeline::ModelInfo& model, pipeline::GenerationRequest& r) {
  pipeline::SamplerChoice choice{model.default_sampler, std::nullopt};
  if (auto name = f.string("sampler")) {
    auto parsed = pipeline::parse_sampler(*name);
    if (!parsed) {
      std::string list;
      for (const auto& row : pipeline::sampler_names_table()) list += std::string(list.empty() ? "" : ", ") + row.id;
      throw InvalidArgument("sampler", "sampler must be one of " + list +
                                           " (or their A1111/ComfyUI names, listed in /info), got " +
                                           describe(*f.get("sampler")));
    }
    choice = *parsed;
  }
  std::optional<pipeline::Schedule> asked;
  if (auto name = f.string("schedule")) {
    asked = pipeline::parse_schedule(*name);
    if (!asked) {
      std::string list;
      for (const auto& row : pipeline::schedule_names_table()) list += std::string(list.empty() ? "" : ", ") + row.id;
      throw InvalidArgument("schedule", "schedule must be one of " + list + ", got " + describe(*f.get("schedule")));
    }
  }
  auto schedule = pipeline::choose_schedule(choice, asked);
  if (!schedule)
    throw InvalidArgument("schedule", std::string("schedule ") + pipeline::schedule_id(*asked) +
                                          " contradicts the sampler name " + describe(*f.get("sampler")));
  r.sampler = choice.sampler;
  r.schedule = *schedule;
}

Operation parse_operation(Fields& f, std::string& name) {
  auto op = f.string("operation");
  if (!op) throw InvalidArgument("operation", "operation is required (image_generation, image_transform or image_inpaint)");
  name = *op;
  if (name == "image_generation") return Operation::Txt2Img;
  if (name == "image_transform") return Operation::Img2Img;
  if (name == "image_inpaint") return Operation::Inpaint;
  throw InvalidArgument("operation", "operation must be one of image_generation, image_transform, image_inpaint, got " +
                                         describe(*f.get("operation")));
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
  } catch (const pipeline::RequestError& e) {
    throw InvalidArgument(e.field(), e.what());
  }
}

// input_image, or its alias init_image; required by the operations that transform an image.
io::Image input_image(Fields& f) {
  const bool primary = f.get("input_image") != nullptr;
  const char* key = primary ? "input_image" : "init_image";
  auto text = f.string(key);
  if (!text) throw InvalidArgument("input_image", "input_image is required for this operation");
  return decode_field_image(key, *text, 3);
}

std::vector<pipeline::LoraSpec> parse_loras(Fields& f, const pipeline::ModelInfo& model, const RequestPolicy& policy,
                                            std::vector<std::string>& warnings, const std::string& operation) {
  const json* list = f.get("loras");
  if (!list) return {};
  if (!list->is_array()) throw InvalidArgument("loras", "loras must be an array, got " + describe(*list));
  try {
    pipeline::check_lora_count(list->size(), model.limits);
  } catch (const pipeline::RequestError& e) {
    throw InvalidArgument(e.field(), e.what());
  }
  std::vector<pipeline::LoraSpec> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    const std::string at = "loras[" + std::to_string(i) + "]";
    if (!item.is_object()) throw InvalidArgument(at, at + " must be an object, got " + describe(item));
    Fields lora(item, at + ".");
    pipeline::LoraSpec spec;
    spec.strength = lora.single("strength").value_or(spec.strength);
    auto path = lora.string("path");
    auto name = path ? std::nullopt : lora.string("name");
    if (!path && !name) throw InvalidArgument(at, at + " needs \"path\" or \"name\"");
    const std::string key = at + (path ? ".path" : ".name");
    try {
      spec.path = pipeline::resolve_lora_reference(path ? *path : *name,
                                                   path ? pipeline::LoraReference::Path : pipeline::LoraReference::Name,
                                                   policy.lora_dirs);
    } catch (const Error& e) {
      throw InvalidArgument(key, key + ": " + e.what());
    }
    auto more = ignored_field_warnings(item, lora.used(), operation, at + ".");
    warnings.insert(warnings.end(), more.begin(), more.end());
    out.push_back(std::move(spec));
  }
  return out;
}

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
  Fields f(body, "");
  JobSpec spec;
  auto& r = spec.request;
  r.operation = parse_operation(f, spec.operation);

  auto prompt = f.string("prompt");
  if (!prompt) throw InvalidArgument("prompt", "prompt is required");
  r.prompt = *prompt;
  r.negative_prompt = f.string("negative_prompt").value_or("");
  r.steps = f.integer("steps").value_or(model.default_steps);
  r.guidance_scale = f.single("guidance_scale").value_or(model.default_guidance);
  r.seed = parse_seed(f);
  r.rng = *pipeline::parse_noise_source(
      f.one_of("rng", pipeline::noise_source_names(), pipeline::noise_source_name(r.rng)));
  parse_sampler(f, model, r);
  const bool uses_image = r.operation != Operation::Txt2Img;
  if (uses_image) r.strength = f.number("strength").value_or(pipeline::default_strength(r.operation));
  r.clip_skip = f.integer("clip_skip").value_or(r.clip_skip);
  r.loras = parse_loras(f, model, policy, spec.warnings, spec.operation);

  const std::optional<int> width = f.integer("width"), height = f.integer("height");
  if (uses_image) {
    r.init_image = input_image(f);
    if (r.operation == Operation::Inpaint) {
      auto mask = f.string("mask_image");
      if (!mask) throw InvalidArgument("mask_image", "mask_image is required for image_inpaint");
      r.mask_image = decode_field_image("mask_image", *mask, 1);
    }
  }
  r.width = width.value_or(uses_image ? pipeline::size_from_input_image(r.init_image->width, model.limits)
                                      : model.native_width);
  r.height = height.value_or(uses_image ? pipeline::size_from_input_image(r.init_image->height, model.limits)
                                        : model.native_height);

  // Per-job preview and final-decoder choices, within what the worker has loaded.
  std::vector<std::string> previews = model.preview_modes;
  if (previews.empty()) previews = {"none", "latent"};
  r.preview = *pipeline::parse_preview_mode(f.one_of("preview", previews, pipeline::preview_mode_name(policy.preview)));
  r.preview_every = f.integer("preview_every").value_or(policy.preview_every);
  std::vector<std::string> decoders = model.decoders;
  if (decoders.empty()) decoders = {"vae"};
  r.decoder = f.one_of("decoder", decoders, "vae") == "taesd" ? pipeline::FinalDecoder::Taesd
                                                               : pipeline::FinalDecoder::Vae;
  r.vae_tiling = policy.vae_tiling;
  r.vae_tile_size = policy.vae_tile_size;

  try {
    pipeline::check_request(r, model);
  } catch (const pipeline::RequestError& e) {
    throw InvalidArgument(e.field(), e.what());
  }
  // Last: the estimate depends on everything above.
  try {
    pipeline::admit_job_memory(r, model, pipeline::memory_available_to_process(policy.max_memory));
  } catch (const pipeline::MemoryRefused& e) {
    throw InvalidArgument("memory", e.what());
  }

  spec.echo = json::object();
  for (const char* key : {"hive_id", "model", "worker_id"})
    if (auto v = f.string(key)) spec.echo[key] = *v;
  auto ignored = ignored_field_warnings(body, f.used(), spec.operation);
  spec.warnings.insert(spec.warnings.begin(), ignored.begin(), ignored.end());
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
