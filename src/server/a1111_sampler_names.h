#pragma once
// AUTOMATIC1111's sampler and scheduler names for the sdapi/v1 routes, matched
// case-insensitively, mapped to the pipeline's ids. A local adapter until the pipeline's
// one name table (pipeline/sampler_names.h, branch `contract`) is merged; then these
// calls become parse_sampler/parse_schedule and the table there.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sd::server {

struct A1111SamplerName {
  const char* name;                  // A1111's display name: "DPM++ 2M"
  const char* id;                    // the pipeline's: "dpmpp_2m"
  std::vector<const char*> aliases;  // what /sdapi/v1/samplers lists beside the name
};
struct A1111SchedulerName {
  const char* name;   // "karras"
  const char* label;  // "Karras"
  const char* id;     // the pipeline's schedule: "karras"; "automatic" is the sampler's own
};

const std::vector<A1111SamplerName>& a1111_sampler_names();
const std::vector<A1111SchedulerName>& a1111_scheduler_names();

struct A1111SamplerChoice {
  std::string sampler;   // pipeline id
  std::string schedule;  // set by a legacy combined name ("DPM++ 2M Karras"), else empty
};
// A1111 names, their aliases, legacy "<name> Karras"/"<name> Exponential" and the
// pipeline's own ids.
std::optional<A1111SamplerChoice> parse_a1111_sampler(std::string_view name);
// "Automatic" gives "default".
std::optional<std::string> parse_a1111_scheduler(std::string_view name);
// "DPM++ 2M" for "dpmpp_2m"; the id itself when A1111 has no name for it.
std::string a1111_sampler_display_name(const std::string& id);

}  // namespace sd::server
