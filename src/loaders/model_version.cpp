#include "loaders/model_version.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace sd::pipeline {

const std::vector<VersionDefaults>& all_versions() {
  static const std::vector<VersionDefaults> v = {
      {"v1-5", Family::SD1, false, 512, 20, 7.5f, "ddim", "stable-diffusion-v1-5/stable-diffusion-v1-5"},
      {"v1-5-inpaint", Family::SD1, true, 512, 20, 7.5f, "ddim",
       "stable-diffusion-v1-5/stable-diffusion-inpainting"},
      {"v2-1", Family::SD2, false, 768, 20, 7.5f, "ddim", "stabilityai/stable-diffusion-2-1"},
      {"v2-inpaint", Family::SD2, true, 512, 20, 7.5f, "ddim", "stabilityai/stable-diffusion-2-inpainting"},
      {"sd-turbo", Family::SD2, false, 512, 1, 0.0f, "euler_a", "stabilityai/sd-turbo"},
      {"xl", Family::SDXL, false, 1024, 20, 7.5f, "euler", "stabilityai/stable-diffusion-xl-base-1.0"},
      {"xl-inpaint", Family::SDXL, true, 1024, 20, 7.5f, "euler",
       "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"},
      {"turbo", Family::SDXL, false, 512, 4, 0.0f, "euler_a", "stabilityai/sdxl-turbo"},
  };
  return v;
}

std::optional<VersionDefaults> find_version(const std::string& name) {
  std::string n;
  for (char c : name) n += char(std::tolower(static_cast<unsigned char>(c)));
  if (n == "v1.5" || n == "1.5" || n == "sd15" || n == "v15") n = "v1-5";
  if (n == "v2.1" || n == "2.1" || n == "sd21" || n == "v21") n = "v2-1";
  if (n == "sdxl") n = "xl";
  if (n == "sdxl-turbo") n = "turbo";
  for (const auto& v : all_versions())
    if (v.name == n) return v;
  return std::nullopt;
}

namespace {
const VersionDefaults& by_name(const std::string& name) {
  for (const auto& v : all_versions())
    if (v.name == name) return v;
  throw Error("unknown version " + name);
}
}  // namespace

const VersionDefaults& detect_version(const VersionEvidence& e) {
  const bool inpaint = io::json_get<int>(e.unet, "in_channels", 4, "unet config") == 9;
  const bool trailing =
      io::json_get<std::string>(e.scheduler, "timestep_spacing", "", "scheduler config") == "trailing";
  const bool xl = e.has_text_encoder_2 ||
                  io::json_get<std::string>(e.unet, "addition_embed_type", "", "unet config") == "text_time";
  if (xl) return by_name(inpaint ? "xl-inpaint" : trailing ? "turbo" : "xl");
  const std::string act = io::json_get<std::string>(e.text_encoder, "hidden_act", "quick_gelu", "text_encoder config");
  if (act == "gelu") return by_name(inpaint ? "v2-inpaint" : trailing ? "sd-turbo" : "v2-1");
  return by_name(inpaint ? "v1-5-inpaint" : "v1-5");
}

}  // namespace sd::pipeline
