#include "server/jobs_answer.h"

#include <algorithm>

#include "server/job_registry.h"

namespace sd::server {

JobsAnswer::JobsAnswer(JobRegistry& registry, std::vector<std::shared_ptr<Job>> jobs, Build build)
    : registry_(registry), jobs_(std::move(jobs)), build_(std::move(build)) {}

JobsAnswer::~JobsAnswer() { unwatch_all(); }

void JobsAnswer::start(std::function<void()> wake) {
  ready_ = std::move(wake);
  std::lock_guard<std::mutex> lock(watch_mu_);
  for (const auto& job : jobs_) {
    // Called under the registry's lock, which guards every job's `ended`: reading them
    // all here is safe, and the callback only schedules work.
    watch_ids_.push_back(registry_.watch(*job, [this] {
      if (std::all_of(jobs_.begin(), jobs_.end(), [](const auto& j) { return j->ended; })) fire_once();
    }));
  }
  // Jobs that ended before the watch began.
  if (std::all_of(jobs_.begin(), jobs_.end(), [&](const auto& j) { return registry_.has_ended(*j); })) fire_once();
}

void JobsAnswer::fire_once() {
  if (!fired_.exchange(true)) ready_();
}

std::optional<http::Response> JobsAnswer::ready() {
  if (!fired_) return std::nullopt;
  unwatch_all();
  return build_();
}

void JobsAnswer::unwatch_all() {
  std::lock_guard<std::mutex> lock(watch_mu_);
  for (size_t i = 0; i < watch_ids_.size(); ++i) registry_.unwatch(*jobs_[i], watch_ids_[i]);
  watch_ids_.clear();
}

}  // namespace sd::server
