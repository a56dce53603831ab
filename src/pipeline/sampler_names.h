#pragma once
// Samplers and schedules as the pipeline's enums, and the one table of the names people
// type for them: our ids, AUTOMATIC1111's names and aliases, ComfyUI's names; matched
// case-insensitively. sampling/ keeps its own ids (sampler_id/schedule_id).
//
// Schedules: "default" keeps what the model's scheduler config says (diffusers); A1111's
// "Automatic" means the same (the sampler's own), so it maps there. "Karras" and
// "Exponential" respace the sigmas. ComfyUI's "normal"/"simple"/"sgm_uniform" and A1111's
// "Uniform" are refused: each spaces the timesteps its own way, which is not what the
// model's config does, and a name must not promise an image it does not give.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sd::pipeline {

enum class Sampler { Ddim, Euler, EulerA, Heun, Lms, Pndm, Dpmpp2m, Dpmpp2mSde, Lcm, Unipc };
enum class Schedule { Default, Karras, Exponential };

// A name may set both: A1111's legacy "DPM++ 2M Karras" is dpmpp_2m with karras.
struct SamplerChoice {
  Sampler sampler;
  std::optional<Schedule> schedule;
};

std::optional<SamplerChoice> parse_sampler(std::string_view name);
std::optional<Schedule> parse_schedule(std::string_view name);

const char* sampler_id(Sampler s);            // "dpmpp_2m": our id, and sampling/'s
const char* sampler_display_name(Sampler s);  // "DPM++ 2M": A1111's, for infotexts
const char* schedule_id(Schedule s);          // "karras"
const char* schedule_display_name(Schedule s);  // "Karras"

struct SamplerNames {
  Sampler sampler;
  const char* id;
  const char* display_name;
  std::vector<const char*> aliases;  // A1111 and ComfyUI names besides the two above
};
struct ScheduleNames {
  Schedule schedule;
  const char* id;
  const char* display_name;
  std::vector<const char*> aliases;
};

// The schedule a request runs: the one asked for, else the one a combined sampler name
// carries, else Default ("automatic"). Asking for Default counts as not asking, as A1111's
// "Automatic" does. nullopt when the two disagree ("DPM++ 2M Karras" with exponential).
std::optional<Schedule> choose_schedule(const SamplerChoice& sampler, std::optional<Schedule> asked);

// Every sampler and schedule, in listing order (for --help and /info).
const std::vector<SamplerNames>& sampler_names_table();
const std::vector<ScheduleNames>& schedule_names_table();

// The schedules `s` can run (pndm: default only).
std::vector<Schedule> schedules_for(Sampler s);

}  // namespace sd::pipeline
