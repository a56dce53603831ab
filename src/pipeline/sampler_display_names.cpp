#include "pipeline/sampler_display_names.h"

#include <map>

namespace sd::pipeline {

std::string sampler_display_name(const std::string& sampler_id) {
  static const std::map<std::string, std::string> kNames = {
      {"ddim", "DDIM"},         {"euler", "Euler"},           {"euler_a", "Euler a"},
      {"heun", "Heun"},         {"lms", "LMS"},               {"pndm", "PLMS"},
      {"dpmpp_2m", "DPM++ 2M"}, {"dpmpp_2m_sde", "DPM++ 2M SDE"}, {"lcm", "LCM"},
      {"unipc", "UniPC"}};
  auto it = kNames.find(sampler_id);
  return it == kNames.end() ? sampler_id : it->second;
}

std::string schedule_display_name(const std::string& schedule_id) {
  static const std::map<std::string, std::string> kNames = {
      {"default", "Automatic"}, {"karras", "Karras"}, {"exponential", "Exponential"}};
  auto it = kNames.find(schedule_id);
  return it == kNames.end() ? schedule_id : it->second;
}

}  // namespace sd::pipeline
