#include "server/a1111_sampler_names.h"

#include <cctype>

namespace sd::server {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::optional<A1111SamplerChoice> match_sampler(std::string_view name) {
  for (const auto& s : a1111_sampler_names()) {
    if (same_name(name, s.name) || same_name(name, s.id)) return A1111SamplerChoice{s.id, ""};
    for (const char* alias : s.aliases)
      if (same_name(name, alias)) return A1111SamplerChoice{s.id, ""};
  }
  return std::nullopt;
}

}  // namespace

const std::vector<A1111SamplerName>& a1111_sampler_names() {
  static const std::vector<A1111SamplerName> names{
      {"DPM++ 2M", "dpmpp_2m", {"k_dpmpp_2m"}},
      {"DPM++ 2M SDE", "dpmpp_2m_sde", {"k_dpmpp_2m_sde"}},
      {"Euler a", "euler_a", {"k_euler_a", "k_euler_ancestral", "euler_ancestral"}},
      {"Euler", "euler", {"k_euler"}},
      {"LMS", "lms", {"k_lms"}},
      {"Heun", "heun", {"k_heun"}},
      {"DDIM", "ddim", {}},
      {"PLMS", "pndm", {"plms"}},
      {"UniPC", "unipc", {"uni_pc"}},
      {"LCM", "lcm", {"k_lcm"}},
  };
  return names;
}

const std::vector<A1111SchedulerName>& a1111_scheduler_names() {
  static const std::vector<A1111SchedulerName> names{
      {"automatic", "Automatic", "default"},
      {"karras", "Karras", "karras"},
      {"exponential", "Exponential", "exponential"},
  };
  return names;
}

std::optional<A1111SamplerChoice> parse_a1111_sampler(std::string_view name) {
  if (auto plain = match_sampler(name)) return plain;
  // A1111's legacy names carry the schedule: "DPM++ 2M Karras".
  for (const auto& sched : a1111_scheduler_names()) {
    const std::string suffix = std::string(" ") + sched.label;
    if (name.size() <= suffix.size() || !same_name(name.substr(name.size() - suffix.size()), suffix)) continue;
    if (auto base = match_sampler(name.substr(0, name.size() - suffix.size())))
      return A1111SamplerChoice{base->sampler, sched.id};
  }
  return std::nullopt;
}

std::optional<std::string> parse_a1111_scheduler(std::string_view name) {
  for (const auto& s : a1111_scheduler_names())
    if (same_name(name, s.name) || same_name(name, s.label) || same_name(name, s.id)) return std::string(s.id);
  return std::nullopt;
}

std::string a1111_sampler_display_name(const std::string& id) {
  for (const auto& s : a1111_sampler_names())
    if (id == s.id) return s.name;
  return id;
}

}  // namespace sd::server
