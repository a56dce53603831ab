#include "server/openai_request.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "io/image.h"
#include "pipeline/request_limits.h"

namespace sd::server {

namespace {

using nlohmann::json;

enum class Kind { String, Integer, Number, Boolean };
struct Field {
  const char* name;
  Kind kind;
  bool native;  // an extension field, passed to the native job under the same name
};

// OpenAI's fields of each request, then the extensions.
const std::vector<Field> kGenerationFields = {
    {"prompt", Kind::String, true},         {"n", Kind::Integer, false},
    {"size", Kind::String, false},          {"response_format", Kind::String, false},
    {"output_format", Kind::String, false}, {"output_compression", Kind::Integer, false},
    {"quality", Kind::String, false},       {"model", Kind::String, false},
    {"user", Kind::String, false},          {"style", Kind::String, false},
    {"background", Kind::String, false},    {"moderation", Kind::String, false},
    {"stream", Kind::Boolean, false},       {"partial_images", Kind::Integer, false},
    {"negative_prompt", Kind::String, true}, {"seed", Kind::Integer, true},
    {"steps", Kind::Integer, true},         {"guidance_scale", Kind::Number, true},
    {"sampler", Kind::String, true},        {"schedule", Kind::String, true},
};
const std::vector<Field> kEditFields = {
    {"prompt", Kind::String, true},         {"n", Kind::Integer, false},
    {"size", Kind::String, false},          {"response_format", Kind::String, false},
    {"output_format", Kind::String, false}, {"output_compression", Kind::Integer, false},
    {"quality", Kind::String, false},       {"model", Kind::String, false},
    {"user", Kind::String, false},          {"background", Kind::String, false},
    {"input_fidelity", Kind::String, false}, {"stream", Kind::Boolean, false},
    {"partial_images", Kind::Integer, false}, {"negative_prompt", Kind::String, true},
    {"seed", Kind::Integer, true},          {"steps", Kind::Integer, true},
    {"guidance_scale", Kind::Number, true}, {"sampler", Kind::String, true},
    {"schedule", Kind::String, true},       {"strength", Kind::Number, true},
};

const Field* find_field(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (name == f.name) return &f;
  return nullptr;
}

std::string shown(std::string_view s) {
  std::string out(s.substr(0, 40));
  return s.size() > 40 ? out + "..." : out;
}

std::string describe(const json& v) {
  if (v.is_string()) return "'" + shown(v.get<std::string>()) + "'";
  return shown(v.dump(-1, ' ', false, json::error_handler_t::replace));
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::String: return "a string";
    case Kind::Integer: return "an integer";
    case Kind::Number: return "a number";
    case Kind::Boolean: return "a boolean";
  }
  return "?";
}

OpenAiRequestError wrong_type(const Field& f, const std::string& got) {
  return invalid_openai_value(f.name, std::string("Invalid type for '") + f.name + "': expected " + kind_name(f.kind) +
                                          ", but got " + got + ".",
                              "invalid_type");
}

const json* present(const json& body, const char* key) {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::optional<std::string> get_string(const json& body, const char* key) {
  const json* v = present(body, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw wrong_type({key, Kind::String, false}, describe(*v));
  return v->get<std::string>();
}

std::optional<int64_t> get_integer(const json& body, const char* key) {
  const json* v = present(body, key);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (std::floor(d) == d && std::fabs(d) < 1e15) return int64_t(d);
  }
  throw wrong_type({key, Kind::Integer, false}, describe(*v));
}

int64_t get_bounded(const json& body, const char* key, int64_t lo, int64_t hi, int64_t fallback) {
  auto v = get_integer(body, key);
  if (!v) return fallback;
  if (*v < lo || *v > hi)
    throw invalid_openai_value(key, std::string("Invalid value for '") + key + "': " + std::to_string(*v) +
                                        " is outside " + std::to_string(lo) + ".." + std::to_string(hi) + ".");
  return *v;
}

std::optional<std::string> get_one_of(const json& body, const char* key, const std::vector<std::string>& allowed) {
  auto v = get_string(body, key);
  if (!v || std::find(allowed.begin(), allowed.end(), *v) != allowed.end()) return v;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "'" : ", '") + a + "'";
  throw invalid_openai_value(key, std::string("Invalid value for '") + key + "': '" + shown(*v) +
                                      "'. Supported values are: " + list + ".");
}

// "WxH" (OpenAI's spelling), or "auto" / absent for the default size.
void read_size(const json& body, json& job) {
  auto size = get_string(body, "size");
  if (!size || *size == "auto") return;
  size_t x = size->find('x');
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 5 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (x == std::string::npos || !digits(std::string_view(*size).substr(0, x)) ||
      !digits(std::string_view(*size).substr(x + 1)))
    throw invalid_openai_value("size", "Invalid value for 'size': '" + shown(*size) +
                                           "'. Use 'auto' or WIDTHxHEIGHT in pixels, such as '512x512'.");
  job["width"] = std::stoi(size->substr(0, x));
  job["height"] = std::stoi(size->substr(x + 1));
}

// Everything but the images, the same for both routes.
OpenAiImageRequest read_request(const json& body, const std::vector<Field>& fields, const std::string& model_id,
                                const pipeline::RequestLimits& limits, const char* operation) {
  if (!body.is_object())
    throw invalid_openai_value("", "The request body must be a JSON object, got " + describe(body) + ".");
  for (const auto& [key, value] : body.items())
    if (!find_field(fields, key))
      throw invalid_openai_value(key, "Unrecognized request argument supplied: " + shown(key), "unknown_parameter");

  if (auto model = get_string(body, "model"); model && *model != "auto" && *model != model_id)
    throw OpenAiRequestError({404, "The model '" + shown(*model) + "' does not exist on this worker; it serves '" +
                                       model_id + "' (or say 'auto').",
                              "invalid_request_error", "model", "model_not_found"});
  if (!present(body, "prompt"))
    throw invalid_openai_value("prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter");
  // OpenAI's API wants a description to draw (the engine itself would take an empty one).
  if (const json* prompt = present(body, "prompt"); prompt->is_string() && prompt->get_ref<const std::string&>().empty())
    throw invalid_openai_value("prompt", "Invalid 'prompt': empty string. Expected a string with minimum length 1.");

  OpenAiImageRequest out;
  out.n = int(get_bounded(body, "n", 1, limits.max_images, 1));
  if (get_one_of(body, "response_format", {"b64_json", "url"}).value_or("b64_json") == "url")
    out.response_format = ImageResponseFormat::Url;
  if (auto format = get_one_of(body, "output_format", {"png", "jpeg", "webp"}))
    out.output_format = *io::image_format_from_name(*format);
  out.output_compression = int(get_bounded(body, "output_compression", 0, 100, 100));
  // Accepted for the clients that send them; each names a choice of OpenAI's models that
  // Stable Diffusion has no counterpart for, so none changes the image.
  get_one_of(body, "quality", {"auto", "standard", "hd", "low", "medium", "high"});
  if (find_field(fields, "style")) get_one_of(body, "style", {"vivid", "natural"});
  if (find_field(fields, "moderation")) get_one_of(body, "moderation", {"auto", "low"});
  if (find_field(fields, "input_fidelity")) get_one_of(body, "input_fidelity", {"high", "low"});
  get_string(body, "user");
  if (get_one_of(body, "background", {"auto", "opaque", "transparent"}).value_or("auto") == "transparent")
    throw invalid_openai_value("background", "background 'transparent' is not supported: images are opaque.");
  if (const json* stream = present(body, "stream")) {
    if (!stream->is_boolean()) throw wrong_type({"stream", Kind::Boolean, false}, describe(*stream));
    if (stream->get<bool>())
      throw invalid_openai_value("stream", "stream is not supported here; the native /v1/jobs/{id}/stream has progress.");
  }
  get_bounded(body, "partial_images", 0, 3, 0);

  out.job = {{"operation", operation}};
  for (const auto& f : fields)
    if (f.native && body.contains(f.name)) out.job[f.name] = body[f.name];
  read_size(body, out.job);
  out.job["num_images"] = out.n;  // one batch
  return out;
}

// A multipart text field as the JSON value its kind says ("2" -> 2, "true" -> true).
json typed_value(const Field& f, std::string_view text) {
  switch (f.kind) {
    case Kind::String: return std::string(text);
    case Kind::Boolean:
      if (text == "true") return true;
      if (text == "false") return false;
      break;
    case Kind::Integer:
    case Kind::Number: {
      if (text.size() > 32) break;
      json v = json::parse(text, nullptr, false);
      if (v.is_number() && (f.kind == Kind::Number || !v.is_number_float() || std::floor(v.get<double>()) == v.get<double>()))
        return v;
      break;
    }
  }
  throw wrong_type(f, "'" + shown(text) + "'");
}

std::string base64_of(std::string_view bytes) {
  return io::base64_encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// OpenAI's mask marks the area to edit with full transparency (alpha 0); the pipeline's
// mask is white where it repaints. Returned as a greyscale PNG.
std::vector<uint8_t> pipeline_mask(std::string_view mask_bytes, std::string_view image_bytes) {
  const std::vector<uint8_t> bytes(mask_bytes.begin(), mask_bytes.end());
  io::Image rgba;
  try {
    rgba = pipeline::decode_input_image("mask", bytes, 4);
  } catch (const Error& e) {
    throw invalid_openai_value("mask", e.what());
  }
  io::ImageSize image_size;
  try {
    image_size = io::read_image_size(reinterpret_cast<const uint8_t*>(image_bytes.data()), image_bytes.size());
  } catch (const Error& e) {
    throw invalid_openai_value("image", std::string("image is not a PNG or JPEG image: ") + e.what());
  }
  if (image_size.width != rgba.width || image_size.height != rgba.height)
    throw invalid_openai_value("mask", "mask is " + std::to_string(rgba.width) + "x" + std::to_string(rgba.height) +
                                           " but image is " + std::to_string(image_size.width) + "x" +
                                           std::to_string(image_size.height) + "; they must be the same size.");
  io::Image mask;
  mask.width = rgba.width;
  mask.height = rgba.height;
  mask.channels = 1;
  const size_t n = size_t(rgba.width) * size_t(rgba.height);
  mask.pixels.resize(n);
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    mask.pixels[i] = rgba.pixels[i * 4 + 3] == 0 ? 255 : 0;
    any = any || mask.pixels[i];
  }
  if (!any)
    throw invalid_openai_value("mask", "mask has no fully transparent pixel, so nothing would be edited: "
                                       "the area to edit must be transparent (alpha 0).");
  return io::encode_png(mask);
}

// Native field names that OpenAI spells differently.
std::string openai_param(const std::string& native) {
  if (native == "width" || native == "height") return "size";
  if (native == "input_image" || native == "init_image") return "image";
  if (native == "mask_image") return "mask";
  if (native == "body" || native == "memory") return "";
  return native;
}

}  // namespace

std::string openai_model_id(const std::string& model, const std::string& model_path, const std::string& sd_version) {
  namespace fs = std::filesystem;
  auto is_path = [](const std::string& s) {
    std::error_code ec;
    return s.front() == '/' || s.front() == '.' || s.front() == '~' || fs::exists(s, ec);
  };
  if (!model.empty() && !is_path(model)) return model;
  const std::string& path = !model_path.empty() ? model_path : model;
  if (!path.empty()) {
    fs::path p = fs::path(path).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    std::string name = p.has_extension() && p.extension() == ".safetensors" ? p.stem().string() : p.filename().string();
    if (!name.empty()) return name;
  }
  return sd_version.empty() ? "stable-diffusion" : sd_version;
}

OpenAiImageRequest parse_openai_generation(const json& body, const std::string& model_id,
                                           const pipeline::RequestLimits& limits) {
  return read_request(body, kGenerationFields, model_id, limits, "image_generation");
}

OpenAiImageRequest parse_openai_edit(const std::vector<io::FormPart>& parts, const std::string& model_id,
                                     const pipeline::RequestLimits& limits) {
  json fields = json::object();
  std::vector<const io::FormPart*> images;
  const io::FormPart* mask = nullptr;
  for (const auto& part : parts) {
    if (part.name == "image" || part.name == "image[]") {
      images.push_back(&part);
      continue;
    }
    if (part.name == "mask") {
      if (mask) throw invalid_openai_value("mask", "mask is given more than once.");
      mask = &part;
      continue;
    }
    const Field* f = find_field(kEditFields, part.name);
    if (!f)
      throw invalid_openai_value(part.name, "Unrecognized request argument supplied: " + shown(part.name),
                                 "unknown_parameter");
    if (fields.contains(part.name)) throw invalid_openai_value(part.name, part.name + " is given more than once.");
    fields[part.name] = typed_value(*f, part.data);
  }
  if (images.empty())
    throw invalid_openai_value("image", "Missing required parameter: 'image'.", "missing_required_parameter");
  if (images.size() > 1)
    throw invalid_openai_value("image", "This worker edits one image per request; " + std::to_string(images.size()) +
                                            " were sent.");
  const bool inpaint = mask != nullptr;
  OpenAiImageRequest out =
      read_request(fields, kEditFields, model_id, limits, inpaint ? "image_inpaint" : "image_transform");
  out.job["input_image"] = base64_of(images[0]->data);
  if (inpaint) {
    auto png = pipeline_mask(mask->data, images[0]->data);
    out.job["mask_image"] = io::base64_encode(png);
  }
  return out;
}

JobSpec openai_job_spec(const OpenAiImageRequest& request, const pipeline::ModelInfo& model,
                        const RequestPolicy& policy) {
  try {
    return parse_job_request(request.job, model, policy);
  } catch (const InvalidArgument& e) {
    throw invalid_openai_value(openai_param(e.field()), e.what());
  }
}

}  // namespace sd::server
