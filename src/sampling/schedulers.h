#pragma once
// Constructors of the individual samplers, one file each; make_scheduler() picks among them.
#include <memory>

#include "sampling/scheduler.h"

namespace sd::sampling {

std::unique_ptr<Scheduler> make_ddim(const SchedulerConfig& config, Schedule schedule);
std::unique_ptr<Scheduler> make_euler(const SchedulerConfig& config, Schedule schedule);
std::unique_ptr<Scheduler> make_euler_ancestral(const SchedulerConfig& config, Schedule schedule);
std::unique_ptr<Scheduler> make_heun(const SchedulerConfig& config, Schedule schedule);
std::unique_ptr<Scheduler> make_lms(const SchedulerConfig& config, Schedule schedule);
std::unique_ptr<Scheduler> make_pndm(const SchedulerConfig& config, Schedule schedule);
// DPM-Solver++ 2M; `sde` selects the stochastic variant (sde-dpmsolver++).
std::unique_ptr<Scheduler> make_dpmpp_2m(const SchedulerConfig& config, Schedule schedule, bool sde);
std::unique_ptr<Scheduler> make_lcm(const SchedulerConfig& config, Schedule schedule);
std::unique_ptr<Scheduler> make_unipc(const SchedulerConfig& config, Schedule schedule);

}  // namespace sd::sampling
