#include "sampling/scheduler_factory.h"

#include <algorithm>

#include "core/error.h"
#include "sampling/schedulers.h"

namespace sd::sampling {

namespace {

struct SamplerEntry {
  const char* name;
  bool respaceable;    // takes karras/exponential
  bool config_flags;   // its diffusers class reads use_karras_sigmas/use_exponential_sigmas
  std::unique_ptr<Scheduler> (*make)(const SchedulerConfig&, Schedule);
};

std::unique_ptr<Scheduler> make_dpmpp_2m_ode(const SchedulerConfig& c, Schedule s) { return make_dpmpp_2m(c, s, false); }
std::unique_ptr<Scheduler> make_dpmpp_2m_sde(const SchedulerConfig& c, Schedule s) { return make_dpmpp_2m(c, s, true); }

const std::vector<SamplerEntry>& entries() {
  static const std::vector<SamplerEntry> e = {
      {"ddim", true, false, make_ddim},
      {"euler", true, true, make_euler},
      {"euler_a", true, false, make_euler_ancestral},
      {"heun", true, true, make_heun},
      {"lms", true, true, make_lms},
      {"pndm", false, false, make_pndm},
      {"dpmpp_2m", true, true, make_dpmpp_2m_ode},
      {"dpmpp_2m_sde", true, true, make_dpmpp_2m_sde},
      {"lcm", true, false, make_lcm},
      {"unipc", true, true, make_unipc},
  };
  return e;
}

const SamplerEntry& find(const std::string& name) {
  for (const SamplerEntry& e : entries())
    if (name == e.name) return e;
  std::string known;
  for (const std::string& n : sampler_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown sampler '" + name + "' (known: " + known + ")");
}

}  // namespace

const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const SamplerEntry& e : entries()) v.push_back(e.name);
    return v;
  }();
  return names;
}

const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"default", "karras", "exponential"};
  return names;
}

std::vector<std::string> schedules_for(const std::string& sampler) {
  if (find(sampler).respaceable) return schedule_names();
  return {"default"};
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const std::string& schedule,
                                          const SchedulerConfig& config) {
  const SamplerEntry& e = find(name);
  const auto& allowed = schedules_for(name);
  if (std::find(allowed.begin(), allowed.end(), schedule) == allowed.end()) {
    const auto& all = schedule_names();
    if (std::find(all.begin(), all.end(), schedule) == all.end())
      throw Error("unknown schedule '" + schedule + "' (known: default, karras, exponential)");
    throw Error("sampler '" + name + "' supports only the default schedule, not '" + schedule + "'");
  }
  Schedule s = Schedule::Default;
  if (schedule == "karras") s = Schedule::Karras;
  if (schedule == "exponential") s = Schedule::Exponential;
  if (s == Schedule::Default && e.config_flags) {
    if (config.use_karras_sigmas) s = Schedule::Karras;
    if (config.use_exponential_sigmas) s = Schedule::Exponential;
  }
  return e.make(config, s);
}

}  // namespace sd::sampling
