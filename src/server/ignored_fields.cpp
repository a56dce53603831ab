#include "server/ignored_fields.h"

#include <map>

namespace sd::server {

namespace {

constexpr size_t kMaxWarnings = 32;
constexpr size_t kMaxKeyBytes = 64;

// Names that AUTOMATIC1111, diffusers or OpenAI clients send, and what a native job
// says instead.
const std::map<std::string, std::string>& foreign_names() {
  static const std::map<std::string, std::string> names = {
      {"cfg_scale", "use guidance_scale"},
      {"guidance", "use guidance_scale"},
      {"sampler_name", "use sampler (A1111 names are accepted there)"},
      {"sampler_index", "use sampler (A1111 names are accepted there)"},
      {"scheduler", "use schedule"},
      {"num_inference_steps", "use steps"},
      {"denoising_strength", "use strength"},
      {"init_images", "use input_image (one base64 image)"},
      {"image", "use input_image (one base64 image)"},
      {"mask", "use mask_image"},
      {"batch_size", "a native job makes one image; send one job per image"},
      {"n_iter", "a native job makes one image; send one job per image"},
      {"n", "a native job makes one image; send one job per image"},
      {"size", "use width and height"},
      {"override_settings", "use clip_skip for CLIP_stop_at_last_layers"},
      {"weight", "use strength"},
  };
  return names;
}

bool is_image_field(const std::string& key) {
  return key == "input_image" || key == "init_image" || key == "mask_image" || key == "strength";
}

std::string shortened(const std::string& key) {
  if (key.size() <= kMaxKeyBytes) return key;
  return key.substr(0, kMaxKeyBytes) + "...";
}

}  // namespace

std::vector<std::string> ignored_field_warnings(const nlohmann::json& body, const std::set<std::string>& used,
                                                const std::string& operation, const std::string& path) {
  std::vector<std::string> out;
  if (!body.is_object()) return out;
  size_t ignored = 0;
  for (const auto& [key, value] : body.items()) {
    if (used.count(key)) continue;
    if (++ignored > kMaxWarnings) continue;
    const std::string name = path + shortened(key);
    const auto hint = foreign_names().find(key);
    if (hint != foreign_names().end())
      out.push_back(name + " is not a field of native jobs and was ignored; " + hint->second);
    else if (path.empty() && key == "init_image" && used.count("input_image"))
      out.push_back(name + " was ignored: input_image was given");
    else if (path.empty() && is_image_field(key))
      out.push_back(name + " was ignored: " + operation + " does not use it");
    else
      out.push_back("unknown field " + name + " was ignored");
  }
  if (ignored > kMaxWarnings)
    out.push_back("and " + std::to_string(ignored - kMaxWarnings) + " more fields were ignored");
  return out;
}

}  // namespace sd::server
