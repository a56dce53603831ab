#pragma once
// Choosing a sampler by name, and what /info lists.
//
//   name          diffusers class (0.31)                     schedules
//   ddim          DDIMScheduler                              default, karras*, exponential*
//   euler         EulerDiscreteScheduler                     default, karras, exponential
//   euler_a       EulerAncestralDiscreteScheduler            default, karras*, exponential*
//   heun          HeunDiscreteScheduler                      default, karras, exponential
//   lms           LMSDiscreteScheduler                       default, karras, exponential
//   pndm          PNDMScheduler (PLMS, skip_prk_steps)       default
//   dpmpp_2m      DPMSolverMultistepScheduler, dpmsolver++   default, karras, exponential
//   dpmpp_2m_sde  DPMSolverMultistepScheduler, sde-dpmsolver++  default, karras, exponential
//   lcm           LCMScheduler                               default, karras*, exponential*
//   unipc         UniPCMultistepScheduler                    default, karras, exponential
//
// (* no such option in diffusers; defined in the sampler's file the way A1111/ComfyUI run it.)
// "default" keeps what the config says, including its use_karras_sigmas or
// use_exponential_sigmas for the classes that have those options.
#include <memory>
#include <string>
#include <vector>

#include "sampling/scheduler.h"

namespace sd::sampling {

// Throws sd::Error for an unknown sampler or schedule, or a schedule the sampler lacks.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const std::string& schedule,
                                          const SchedulerConfig& config);

const std::vector<std::string>& sampler_names();
const std::vector<std::string>& schedule_names();
// The schedules `sampler` accepts; throws sd::Error for an unknown sampler.
std::vector<std::string> schedules_for(const std::string& sampler);

}  // namespace sd::sampling
