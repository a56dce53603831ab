#include "server/job_registry.h"

#include <algorithm>

#include "server/job_id.h"
#include "server/sse_format.h"

namespace sd::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* job_state_name(JobState s) {
  switch (s) {
    case JobState::Queued: return "queued";
    case JobState::Running: return "running";
    case JobState::Completed: return "completed";
    case JobState::Failed: return "failed";
    case JobState::Cancelled: return "cancelled";
  }
  return "?";
}

namespace {
json progress_data(int step, int total) {
  return {{"step", step}, {"total", total}, {"percent", total > 0 ? step * 100 / total : 0}};
}
}  // namespace

JobRegistry::JobRegistry(Options opt) : opt_(opt) {}

JobRegistry::Submitted JobRegistry::submit(JobSpec spec) {
  std::lock_guard<std::mutex> lock(mu_);
  purge_expired_locked();
  if (shutting_down_) return {SubmitStatus::ShuttingDown, nullptr};
  if (queue_.size() >= opt_.queue_capacity) return {SubmitStatus::QueueFull, nullptr};
  auto job = std::make_shared<Job>(new_job_id(), std::move(spec));
  jobs_[job->id] = job;
  queue_.push_back(job);
  work_.notify_one();
  return {SubmitStatus::Accepted, job};
}

std::shared_ptr<Job> JobRegistry::find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  purge_expired_locked();
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second;
}

json JobRegistry::status_json(const Job& job) {
  std::unique_lock<std::mutex> lock(mu_);
  json out = {{"job_id", job.id}, {"status", job_state_name(job.state)}, {"operation", job.spec.operation}};
  for (auto& [k, v] : job.spec.echo.items()) out[k] = v;
  switch (job.state) {
    case JobState::Queued: {
      auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& j) { return j.get() == &job; });
      out["position"] = size_t(it - queue_.begin()) + 1;  // 1 = runs next
      break;
    }
    case JobState::Running:
      out["step"] = job.step;
      out["total"] = job.total;
      break;
    case JobState::Completed: break;
    case JobState::Failed: out["error"] = job.error; break;
    case JobState::Cancelled: break;
  }
  const std::vector<EventText> images = job.complete_events;
  lock.unlock();  // parsing large image strings needs no lock
  if (images.empty()) return out;
  json list = json::array();
  for (const EventText& event : images) {
    json data = json::parse(sse_event_data(*event));
    data.erase("type");
    data.erase("event");
    list.push_back(std::move(data));
  }
  for (auto& [k, v] : list.front().items()) out[k] = v;
  out["images"] = std::move(list);
  return out;
}

JobRegistry::CancelOutcome JobRegistry::cancel(Job& job) {
  std::lock_guard<std::mutex> lock(mu_);
  if (job.ended) return job.state == JobState::Cancelled ? CancelOutcome::Cancelled : CancelOutcome::AlreadyFinished;
  if (job.state == JobState::Queued) {
    queue_.erase(std::remove_if(queue_.begin(), queue_.end(), [&](const auto& j) { return j.get() == &job; }),
                 queue_.end());
    end(job, JobState::Cancelled, std::string(kCancelledMarker));
    return CancelOutcome::Cancelled;
  }
  job.cancel_requested = true;
  return CancelOutcome::Cancelling;
}

JobRegistry::EventBatch JobRegistry::read_events(Job& job, size_t from, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (from >= job.events.size() && !job.ended)
    job.changed.wait_for(lock, wait, [&] { return from < job.events.size() || job.ended; });
  EventBatch batch;
  for (size_t i = from; i < job.events.size(); ++i)
    if (job.events[i]) batch.events.push_back(job.events[i]);
  batch.next = std::max(from, job.events.size());
  batch.ended = job.ended;
  return batch;
}

uint64_t JobRegistry::watch(Job& job, std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_watch_id_++;
  job.watchers.emplace(id, std::move(wake));
  return id;
}

void JobRegistry::unwatch(Job& job, uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  job.watchers.erase(id);
}

void JobRegistry::stream_opened(Job& job) {
  std::lock_guard<std::mutex> lock(mu_);
  ++job.open_streams;
  ++open_streams_;
}

void JobRegistry::stream_closed(Job& job) {
  std::lock_guard<std::mutex> lock(mu_);
  --job.open_streams;
  --open_streams_;
  streams_.notify_all();
}

bool JobRegistry::wait_streams_closed(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return streams_.wait_for(lock, timeout, [&] { return open_streams_ == 0; });
}

LiveMetrics JobRegistry::live_metrics() const {
  std::lock_guard<std::mutex> lock(mu_);
  LiveMetrics live;
  live.queue_depth = queue_.size();
  if (running_) {
    live.job_running = true;
    live.running_step = running_->step;
    live.running_total = running_->total;
  }
  return live;
}

bool JobRegistry::has_ended(const Job& job) const {
  std::lock_guard<std::mutex> lock(mu_);
  return job.ended;
}

std::string JobRegistry::latest_preview_image(const Job& job) const {
  EventText preview;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (job.latest_preview >= 0) preview = job.events[size_t(job.latest_preview)];
  }
  if (!preview) return {};
  // Parsed outside the lock, as status_json does with the result.
  return json::parse(sse_event_data(*preview)).value("image", "");
}

size_t JobRegistry::queue_length() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

bool JobRegistry::has_running_job() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_ != nullptr;
}

std::shared_ptr<Job> JobRegistry::next_job() {
  std::unique_lock<std::mutex> lock(mu_);
  work_.wait(lock, [&] { return shutting_down_ || !queue_.empty(); });
  if (shutting_down_ || queue_.empty()) return nullptr;
  running_ = queue_.front();
  queue_.pop_front();
  running_->state = JobState::Running;
  running_->started_at = Clock::now();
  running_->total = running_->spec.request.steps;
  notify_changed(*running_);
  return running_;
}

void JobRegistry::add_progress(Job& job, int step, int total) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Clock::now();
  if (job.last_progress) metrics_.step_done(std::chrono::duration<double>(now - *job.last_progress).count());
  job.last_progress = now;
  job.step = step;
  job.total = total;
  // One event per step: a step's preview (reported first) takes the place of its progress.
  if (job.preview_step == step) return;
  append(job, sse_event("progress", progress_data(step, total)));
}

void JobRegistry::add_preview(Job& job, int step, int total, const std::string& png_base64) {
  json data = progress_data(step, total);
  data["image"] = png_base64;
  data["format"] = "png";
  std::string text = sse_event("preview", std::move(data));
  std::lock_guard<std::mutex> lock(mu_);
  job.step = step;
  job.total = total;
  job.preview_step = step;
  // Only the newest preview is kept for clients that have not read the older one yet.
  if (job.latest_preview >= 0) job.events[size_t(job.latest_preview)].reset();
  job.latest_preview = long(job.events.size());
  append(job, std::move(text));
}

void JobRegistry::add_image(Job& job, const json& complete_data) {
  std::string text = sse_event("complete", complete_data);
  std::lock_guard<std::mutex> lock(mu_);
  append(job, std::move(text));
  job.complete_events.push_back(job.events.back());
  metrics_.image_generated();
}

void JobRegistry::complete(Job& job) {
  std::lock_guard<std::mutex> lock(mu_);
  end(job, JobState::Completed, std::string(kDoneMarker));
}

void JobRegistry::fail(Job& job, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  job.error = message;
  append(job, sse_event("error", {{"message", message}}));
  end(job, JobState::Failed, error_marker(message));
}

void JobRegistry::end_cancelled(Job& job) {
  std::lock_guard<std::mutex> lock(mu_);
  end(job, JobState::Cancelled, std::string(kCancelledMarker));
}

void JobRegistry::shutdown(bool cancel_running) {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  for (auto& job : queue_) end(*job, JobState::Cancelled, std::string(kCancelledMarker));
  queue_.clear();
  if (cancel_running && running_) running_->cancel_requested = true;
  work_.notify_all();
}

void JobRegistry::purge_expired() {
  std::lock_guard<std::mutex> lock(mu_);
  purge_expired_locked();
}

size_t JobRegistry::job_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

void JobRegistry::append(Job& job, std::string text) {
  job.events.push_back(std::make_shared<const std::string>(std::move(text)));
  notify_changed(job);
}

void JobRegistry::notify_changed(Job& job) {
  job.changed.notify_all();
  for (auto& [id, wake] : job.watchers) wake();
}

void JobRegistry::end(Job& job, JobState state, std::string marker) {
  job.state = state;
  append(job, sse_data(marker));
  job.ended = true;
  job.ended_at = Clock::now();
  const JobOutcome outcome = state == JobState::Completed ? JobOutcome::Completed
                             : state == JobState::Failed  ? JobOutcome::Failed
                                                          : JobOutcome::Cancelled;
  std::optional<double> ran;
  if (job.started_at) ran = std::chrono::duration<double>(job.ended_at - *job.started_at).count();
  metrics_.job_ended(outcome, ran);
  // The inputs are not needed any more; the log and the result stay until purged.
  job.spec.request.init_image.reset();
  job.spec.request.mask_image.reset();
  if (running_.get() == &job) running_.reset();
  notify_changed(job);
}

void JobRegistry::purge_expired_locked() {
  auto now = Clock::now();
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const Job& job = *it->second;
    if (job.ended && now - job.ended_at >= opt_.retention)
      it = jobs_.erase(it);
    else
      ++it;
  }
}

}  // namespace sd::server
