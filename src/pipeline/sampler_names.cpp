#include "pipeline/sampler_names.h"

#include <algorithm>
#include <cctype>

#include "sampling/scheduler_factory.h"

namespace sd::pipeline {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

template <class Row>
bool row_has_name(const Row& row, std::string_view name) {
  if (same_name(name, row.id) || same_name(name, row.display_name)) return true;
  return std::any_of(row.aliases.begin(), row.aliases.end(), [&](const char* a) { return same_name(name, a); });
}

std::optional<Sampler> find_sampler(std::string_view name) {
  for (const SamplerNames& row : sampler_names_table())
    if (row_has_name(row, name)) return row.sampler;
  return std::nullopt;
}

}  // namespace

// A1111's aliases are those of modules/sd_samplers_kdiffusion.py and sd_samplers_timesteps.py;
// ComfyUI's the KSampler names. ComfyUI's uni_pc_bh2 is another UniPC variant, left out.
const std::vector<SamplerNames>& sampler_names_table() {
  static const std::vector<SamplerNames> table = {
      {Sampler::Ddim, "ddim", "DDIM", {}},
      {Sampler::Euler, "euler", "Euler", {"k_euler"}},
      {Sampler::EulerA, "euler_a", "Euler a", {"euler_ancestral", "k_euler_a", "k_euler_ancestral"}},
      {Sampler::Heun, "heun", "Heun", {"k_heun"}},
      {Sampler::Lms, "lms", "LMS", {"k_lms"}},
      {Sampler::Pndm, "pndm", "PLMS", {}},
      {Sampler::Dpmpp2m, "dpmpp_2m", "DPM++ 2M", {"k_dpmpp_2m"}},
      {Sampler::Dpmpp2mSde, "dpmpp_2m_sde", "DPM++ 2M SDE", {"k_dpmpp_2m_sde"}},
      {Sampler::Lcm, "lcm", "LCM", {"k_lcm"}},
      {Sampler::Unipc, "unipc", "UniPC", {"uni_pc"}},
  };
  return table;
}

const std::vector<ScheduleNames>& schedule_names_table() {
  static const std::vector<ScheduleNames> table = {
      {Schedule::Default, "default", "Automatic", {}},
      {Schedule::Karras, "karras", "Karras", {}},
      {Schedule::Exponential, "exponential", "Exponential", {}},
  };
  return table;
}

std::optional<SamplerChoice> parse_sampler(std::string_view name) {
  if (auto s = find_sampler(name)) return SamplerChoice{*s, std::nullopt};
  // A1111's legacy combined names: "<sampler> Karras", "<sampler> Exponential".
  const size_t space = name.rfind(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto schedule = parse_schedule(name.substr(space + 1));
  if (!schedule || *schedule == Schedule::Default) return std::nullopt;
  const auto sampler = find_sampler(name.substr(0, space));
  if (!sampler) return std::nullopt;
  return SamplerChoice{*sampler, schedule};
}

std::optional<Schedule> parse_schedule(std::string_view name) {
  for (const ScheduleNames& row : schedule_names_table())
    if (row_has_name(row, name)) return row.schedule;
  return std::nullopt;
}

std::optional<Schedule> choose_schedule(const SamplerChoice& sampler, std::optional<Schedule> asked) {
  if (asked == Schedule::Default) asked.reset();
  if (asked && sampler.schedule && *asked != *sampler.schedule) return std::nullopt;
  return asked.value_or(sampler.schedule.value_or(Schedule::Default));
}

const char* sampler_id(Sampler s) {
  for (const SamplerNames& row : sampler_names_table())
    if (row.sampler == s) return row.id;
  return "";
}

const char* sampler_display_name(Sampler s) {
  for (const SamplerNames& row : sampler_names_table())
    if (row.sampler == s) return row.display_name;
  return "";
}

const char* schedule_id(Schedule s) {
  for (const ScheduleNames& row : schedule_names_table())
    if (row.schedule == s) return row.id;
  return "";
}

const char* schedule_display_name(Schedule s) {
  for (const ScheduleNames& row : schedule_names_table())
    if (row.schedule == s) return row.display_name;
  return "";
}

std::vector<Schedule> schedules_for(Sampler s) {
  std::vector<Schedule> out;
  for (const std::string& id : sampling::schedules_for(sampler_id(s)))
    if (auto schedule = parse_schedule(id)) out.push_back(*schedule);
  return out;
}

}  // namespace sd::pipeline
