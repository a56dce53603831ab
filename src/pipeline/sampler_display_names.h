#pragma once
// A1111's display names of this project's sampler and schedule ids, for the parameters
// text. A thin stand-in for sampler_names.h (branch `contract`), whose table replaces it
// at the merge.
#include <string>

namespace sd::pipeline {

// "dpmpp_2m" -> "DPM++ 2M", "euler_a" -> "Euler a"; an unknown id comes back unchanged.
std::string sampler_display_name(const std::string& sampler_id);
// "karras" -> "Karras", "exponential" -> "Exponential"; an unknown id comes back unchanged.
std::string schedule_display_name(const std::string& schedule_id);

}  // namespace sd::pipeline
