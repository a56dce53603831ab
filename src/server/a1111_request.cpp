#include "server/a1111_request.h"

#include <cmath>
#include <map>
#include <optional>

#include "core/error.h"
#include "io/image.h"
#include "io/json_bounded.h"
#include "pipeline/noise_source.h"
#include "pipeline/request_check.h"
#include "pipeline/request_limits.h"

namespace sd::server {

namespace {

using nlohmann::json;

// A1111's own limits on what one call may ask for beyond the contract's images per
// request (batch_size): batches (n_iter) and input images.
constexpr int kMaxBatchCount = 8;
constexpr size_t kMaxInitImages = 8;
constexpr double kMaxExactDouble = 9007199254740992.0;  // 2^53
// inpainting_fill: 0 fill, 1 original, 2 latent noise, 3 latent nothing; A1111's API
// defaults to 0 (its web page to 1).
constexpr int kFillDefault = 0;
constexpr pipeline::MaskedContent kMaskedContent[] = {pipeline::MaskedContent::Fill, pipeline::MaskedContent::Original,
                                                      pipeline::MaskedContent::LatentNoise,
                                                      pipeline::MaskedContent::LatentNothing};

json at(std::initializer_list<json> path) {
  json loc = json::array({"body"});
  for (const auto& p : path) loc.push_back(p);
  return loc;
}

const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

// pydantic's int: integers, and floats without a fraction (20.0 from some clients).
std::optional<int64_t> as_integer(const json& v) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>() > uint64_t(INT64_MAX) ? std::nullopt : std::optional<int64_t>(int64_t(v.get<uint64_t>()));
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::fabs(d) <= kMaxExactDouble) return int64_t(d);
  }
  return std::nullopt;
}

void check_range(const json& loc, double v, std::optional<double> lo, std::optional<double> hi) {
  auto text = [](double d) {
    json j = d == std::floor(d) && std::fabs(d) < 1e15 ? json(int64_t(d)) : json(d);
    return j;
  };
  if (lo && v < *lo)
    throw A1111FieldError(loc, "ensure this value is greater than or equal to " + text(*lo).dump(),
                          "value_error.number.not_ge", {{"limit_value", text(*lo)}});
  if (hi && v > *hi)
    throw A1111FieldError(loc, "ensure this value is less than or equal to " + text(*hi).dump(),
                          "value_error.number.not_le", {{"limit_value", text(*hi)}});
}

std::optional<int64_t> get_int(const json& obj, const char* key, const json& loc,
                               std::optional<double> lo = std::nullopt, std::optional<double> hi = std::nullopt) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  auto i = v->is_boolean() ? std::nullopt : as_integer(*v);
  if (!i) throw A1111FieldError(loc, "value is not a valid integer", "type_error.integer");
  check_range(loc, double(*i), lo, hi);
  return i;
}

std::optional<double> get_float(const json& obj, const char* key, const json& loc) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw A1111FieldError(loc, "value is not a valid float", "type_error.float");
  return v->get<double>();
}

std::optional<std::string> get_str(const json& obj, const char* key, const json& loc) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw A1111FieldError(loc, "str type expected", "type_error.str");
  return v->get<std::string>();
}

// pydantic's bool: true/false, and 0/1.
std::optional<bool> get_bool(const json& obj, const char* key, const json& loc) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (v->is_boolean()) return v->get<bool>();
  if (auto i = as_integer(*v); i && (*i == 0 || *i == 1)) return *i == 1;
  throw A1111FieldError(loc, "value could not be parsed to a boolean", "type_error.bool");
}

const json* get_dict(const json& obj, const char* key, const json& loc) {
  const json* v = field(obj, key);
  if (v && !v->is_object()) throw A1111FieldError(loc, "value is not a valid dict", "type_error.dict");
  return v;
}

const json* get_list(const json& obj, const char* key, const json& loc) {
  const json* v = field(obj, key);
  if (v && !v->is_array()) throw A1111FieldError(loc, "value is not a valid list", "type_error.list");
  return v;
}

// Where a native job field came from in the A1111 body, for the 422 of a refused value.
struct Origin {
  json loc;
  std::string name;  // as the message names it
};

// The mask with black and white swapped (inpainting_mask_invert), as a PNG in base64.
std::string inverted_mask(const std::string& base64) {
  std::vector<uint8_t> bytes;
  try {
    bytes = io::base64_decode(base64);
  } catch (const Error& e) {
    throw A1111FieldError(at({"mask"}), std::string("mask is not valid base64: ") + e.what(), "value_error");
  }
  io::Image mask;
  try {
    mask = pipeline::decode_input_image("mask", bytes, 1);
  } catch (const Error& e) {
    throw A1111FieldError(at({"mask"}), e.what(), "value_error");
  }
  for (auto& p : mask.pixels) p = uint8_t(255 - p);
  return io::base64_encode(io::encode_png(mask));
}

// The worker's job check, refusals renamed to the A1111 fields they came from.
JobSpec check_job(const json& native, const std::map<std::string, Origin>& origins, const pipeline::ModelInfo& model,
                  const RequestPolicy& policy) {
  try {
    return parse_job_request(native, model, policy);
  } catch (const InvalidArgument& e) {
    std::string msg = e.what();
    auto it = origins.find(e.field());
    if (it == origins.end()) throw A1111FieldError(at({}), msg, "value_error");
    if (msg.rfind(e.field(), 0) == 0) msg = it->second.name + msg.substr(e.field().size());
    throw A1111FieldError(it->second.loc, msg, "value_error");
  }
}

}  // namespace

json A1111FieldError::detail() const {
  json item = {{"loc", loc_}, {"msg", what()}, {"type", type_}};
  if (!ctx_.is_null()) item["ctx"] = ctx_;
  return json::array({item});
}

json parse_a1111_body(std::string_view text) {
  json body;
  try {
    body = io::parse_json_bounded(text);
  } catch (const Error& e) {
    throw A1111FieldError(at({0}), e.what(), "value_error.jsondecode");
  }
  if (!body.is_object()) throw A1111FieldError(at({}), "value is not a valid dict", "type_error.dict");
  return body;
}

void apply_a1111_options(const json& options, const json& loc_prefix, A1111Settings& settings) {
  auto loc = [&](const char* key) {
    json l = loc_prefix;
    l.push_back(key);
    return l;
  };
  if (auto clip = get_int(options, "CLIP_stop_at_last_layers", loc("CLIP_stop_at_last_layers"), 1, std::nullopt))
    settings.clip_stop_at_last_layers = int(std::min<int64_t>(*clip, 1000));
  if (auto rng = get_str(options, "randn_source", loc("randn_source"))) {
    auto source = pipeline::parse_noise_source(*rng);
    if (!source)
      throw A1111FieldError(loc("randn_source"), "randn_source must be one of CPU, GPU, NV, got " + json(*rng).dump(),
                            "value_error");
    settings.randn_source = *source;
  }
}

A1111Generation parse_a1111_generation(const json& body, A1111Mode mode, const A1111Settings& defaults,
                                       const pipeline::ModelInfo& model, const RequestPolicy& policy) {
  A1111Generation gen;
  gen.mode = mode;
  json native = json::object();
  std::map<std::string, Origin> origins;
  auto take = [&](const char* native_key, const char* a1111_key, json value) {
    native[native_key] = std::move(value);
    origins[native_key] = {at({a1111_key}), a1111_key};
  };

  // Options for this request only: override_settings, over the worker's current ones.
  A1111Settings settings = defaults;
  json override_loc = at({"override_settings"});
  if (const json* overrides = get_dict(body, "override_settings", override_loc))
    apply_a1111_options(*overrides, override_loc, settings);

  take("prompt", "prompt", get_str(body, "prompt", at({"prompt"})).value_or(""));
  take("negative_prompt", "negative_prompt", get_str(body, "negative_prompt", at({"negative_prompt"})).value_or(""));
  if (auto steps = get_int(body, "steps", at({"steps"}))) take("steps", "steps", *steps);
  if (auto cfg = get_float(body, "cfg_scale", at({"cfg_scale"}))) take("guidance_scale", "cfg_scale", *cfg);
  if (auto w = get_int(body, "width", at({"width"}))) take("width", "width", *w);
  if (auto h = get_int(body, "height", at({"height"}))) take("height", "height", *h);

  // sampler_name, or the deprecated sampler_index; names and a legacy name's schedule
  // ("DPM++ 2M Karras") are the pipeline's table, read by the job check.
  const char* sampler_key = field(body, "sampler_name") ? "sampler_name" : "sampler_index";
  if (auto name = get_str(body, sampler_key, at({sampler_key}))) take("sampler", sampler_key, *name);
  if (auto name = get_str(body, "scheduler", at({"scheduler"}))) take("schedule", "scheduler", *name);

  if (auto clip = get_int(body, "clip_skip", at({"clip_skip"}))) {
    take("clip_skip", "clip_skip", *clip);
  } else if (settings.clip_stop_at_last_layers > 0) {
    native["clip_skip"] = settings.clip_stop_at_last_layers;
    origins["clip_skip"] = {at({"override_settings", "CLIP_stop_at_last_layers"}), "CLIP_stop_at_last_layers"};
  }
  native["rng"] = pipeline::noise_source_name(settings.randn_source);

  gen.batch_size = int(get_int(body, "batch_size", at({"batch_size"}), 1, model.limits.max_images).value_or(1));
  gen.n_iter = int(get_int(body, "n_iter", at({"n_iter"}), 1, kMaxBatchCount).value_or(1));
  gen.send_images = get_bool(body, "send_images", at({"send_images"})).value_or(true);
  get_bool(body, "save_images", at({"save_images"}));  // accepted; the worker keeps no files
  const int64_t seed_in = get_int(body, "seed", at({"seed"}), -1).value_or(-1);
  const uint64_t seed = seed_in == -1 ? pipeline::pick_random_seed() : uint64_t(seed_in);

  std::vector<std::string> init_images;
  bool include_init_images = false;
  pipeline::MaskedContent masked_content = pipeline::MaskedContent::Original;
  float mask_blur_x = 0.f, mask_blur_y = 0.f;
  bool only_masked = false;
  int padding = 0;
  if (mode == A1111Mode::Img2Img) {
    const json* list = get_list(body, "init_images", at({"init_images"}));
    if (!list || list->empty())
      throw A1111FieldError(at({"init_images"}), "init_images needs at least one image", "value_error.missing");
    if (list->size() > kMaxInitImages)
      throw A1111FieldError(at({"init_images"}), "ensure this value has at most " + std::to_string(kMaxInitImages) + " items",
                            "value_error.list.max_items", {{"limit_value", kMaxInitImages}});
    for (size_t i = 0; i < list->size(); ++i) {
      if (!(*list)[i].is_string()) throw A1111FieldError(at({"init_images", i}), "str type expected", "type_error.str");
      init_images.push_back((*list)[i].get<std::string>());
    }
    include_init_images = get_bool(body, "include_init_images", at({"include_init_images"})).value_or(false);
    take("strength", "denoising_strength", get_float(body, "denoising_strength", at({"denoising_strength"})).value_or(0.75));

    auto mask = get_str(body, "mask", at({"mask"}));
    const int fill = int(get_int(body, "inpainting_fill", at({"inpainting_fill"}), 0, 3).value_or(kFillDefault));
    const bool invert = get_int(body, "inpainting_mask_invert", at({"inpainting_mask_invert"}), 0, 1).value_or(0) == 1;
    // mask_blur sets both directions (A1111's setter); 4 px by default, as in A1111.
    const auto blur = get_int(body, "mask_blur", at({"mask_blur"}), 0, std::nullopt);
    mask_blur_x = float(get_int(body, "mask_blur_x", at({"mask_blur_x"}), 0, std::nullopt).value_or(blur.value_or(4)));
    mask_blur_y = float(get_int(body, "mask_blur_y", at({"mask_blur_y"}), 0, std::nullopt).value_or(blur.value_or(4)));
    if (blur) mask_blur_x = mask_blur_y = float(*blur);
    // "Only masked", A1111's API default, with no margin by default.
    only_masked = get_bool(body, "inpaint_full_res", at({"inpaint_full_res"})).value_or(true);
    // The upper bound only keeps the value an int; the pipeline holds the limit.
    padding = int(get_int(body, "inpaint_full_res_padding", at({"inpaint_full_res_padding"}), 0, INT32_MAX)
                      .value_or(0));
    if (mask) {
      masked_content = kMaskedContent[fill];
      native["operation"] = "image_inpaint";
      take("mask_image", "mask", invert ? inverted_mask(*mask) : *mask);
    } else {
      native["operation"] = "image_transform";
    }
  } else {
    native["operation"] = "image_generation";
  }

  // One input image (or none): one job per n_iter, each a batch of batch_size images
  // through the networks, seeds seed + k * batch_size onwards. Several input images: one
  // job per image, cycling through them as A1111 does. Each is checked as a native job
  // would be; jobs that share an input image share its check.
  const int total = gen.batch_size * gen.n_iter;
  const bool batched = init_images.size() <= 1;
  const size_t distinct = batched ? 1 : std::min(init_images.size(), size_t(total));
  std::vector<JobSpec> checked;
  for (size_t i = 0; i < distinct; ++i) {
    json job = native;
    job["seed"] = seed;
    if (batched) {
      job["num_images"] = gen.batch_size;
      origins["num_images"] = {at({"batch_size"}), "batch_size"};
    }
    if (!init_images.empty()) {
      job["input_image"] = init_images[i];
      origins["input_image"] = {at({"init_images", i}), "init_images[" + std::to_string(i) + "]"};
    }
    JobSpec spec = check_job(job, origins, model, policy);
    // A1111's masked img2img: the masked area's start, the whole picture or only the
    // masked area, and the original pasted back through the blurred mask; the pipeline
    // checks the blur's range.
    spec.request.masked_content = masked_content;
    spec.request.paste_original = true;
    spec.request.mask_blur_x = mask_blur_x;
    spec.request.mask_blur_y = mask_blur_y;
    spec.request.inpaint_only_masked = only_masked;
    spec.request.inpaint_padding = padding;
    try {
      pipeline::check_request(spec.request, model);
    } catch (const pipeline::RequestError& e) {
      if (e.field() == "inpaint_padding")
        throw A1111FieldError(at({"inpaint_full_res_padding"}), e.what(), "value_error");
      const char* field = e.field() == "mask_blur_y" ? "mask_blur_y" : "mask_blur_x";
      throw A1111FieldError(at({body.contains(field) ? field : "mask_blur"}), e.what(), "value_error");
    }
    checked.push_back(std::move(spec));
  }
  const int jobs = batched ? gen.n_iter : total;
  const int images_per_job = batched ? gen.batch_size : 1;
  for (int k = 0; k < jobs; ++k) {
    JobSpec spec = checked[size_t(k) % checked.size()];
    spec.request.seed = seed + uint64_t(k) * uint64_t(images_per_job);
    gen.jobs.push_back(std::move(spec));
  }

  gen.parameters = body;
  if (!include_init_images) {
    gen.parameters.erase("init_images");
    gen.parameters.erase("mask");
  }
  return gen;
}

}  // namespace sd::server
