#pragma once
// Every job the worker knows: a bounded queue in arrival order, the one running job, and
// each job's event log. HTTP threads submit, look up, cancel and read events; the engine
// thread takes jobs and appends their events. Streams read a log by index, so a late or a
// second client gets every event (of the previews, only the newest). Finished jobs are
// dropped after the retention time.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/job_request.h"
#include "server/metrics.h"

namespace sd::server {

enum class JobState { Queued, Running, Completed, Failed, Cancelled };
const char* job_state_name(JobState s);

// One formatted SSE message; null once a newer preview has replaced it.
using EventText = std::shared_ptr<const std::string>;

struct Job {
  Job(std::string id_, JobSpec spec_) : id(std::move(id_)), spec(std::move(spec_)) {}
  const std::string id;
  JobSpec spec;                          // read by the engine while the job runs
  std::atomic<bool> cancel_requested{false};
  std::atomic<int> open_streams{0};

  // Guarded by the registry's mutex.
  JobState state = JobState::Queued;
  int step = 0, total = 0;
  std::vector<EventText> events;
  long latest_preview = -1;              // index in events
  std::vector<EventText> complete_events;  // one per image, in index order
  int preview_step = 0;                  // the step of the latest preview
  std::string error;
  bool ended = false;                    // the end marker is the last event
  std::optional<std::chrono::steady_clock::time_point> started_at;     // left the queue
  std::optional<std::chrono::steady_clock::time_point> last_progress;  // the latest step
  std::chrono::steady_clock::time_point ended_at;
  std::condition_variable changed;       // any of the above changed
  std::map<uint64_t, std::function<void()>> watchers;  // called on every change
};

class JobRegistry {
 public:
  struct Options {
    size_t queue_capacity = 16;
    std::chrono::milliseconds retention{600000};
  };
  explicit JobRegistry(Options opt);

  enum class SubmitStatus { Accepted, QueueFull, ShuttingDown };
  struct Submitted {
    SubmitStatus status;
    std::shared_ptr<Job> job;  // when accepted
  };
  Submitted submit(JobSpec spec);

  std::shared_ptr<Job> find(const std::string& id);
  // GET /v1/jobs/{id}: status, queue position or step/total, the result or the error.
  // The images finished so far are listed in "images" (each its complete event's data);
  // the first one's fields are also at the top level, as for a job of one image.
  nlohmann::json status_json(const Job& job);

  enum class CancelOutcome { Cancelled, Cancelling, AlreadyFinished };
  // A queued job ends at once; a running one is asked to stop before its next step.
  CancelOutcome cancel(Job& job);

  struct EventBatch {
    std::vector<EventText> events;  // in order, superseded previews left out
    size_t next = 0;                // index to read from next time
    bool ended = false;             // no event will follow these
  };
  // The events from index `from` on; when there are none yet, waits up to `wait` for more.
  EventBatch read_events(Job& job, size_t from, std::chrono::milliseconds wait);
  // Calls `wake` after every change of the job's events, under the registry's lock (so it
  // must only schedule work), until unwatch(). Returns the id for unwatch.
  uint64_t watch(Job& job, std::function<void()> wake);
  void unwatch(Job& job, uint64_t id);
  void stream_opened(Job& job);
  void stream_closed(Job& job);
  // Waits until no stream is open (each has sent its end marker or lost its client).
  bool wait_streams_closed(std::chrono::milliseconds timeout);

  // True once the job has its end marker (completed, failed or cancelled).
  bool has_ended(const Job& job) const;
  // The newest preview's base64 PNG, or "" when the job has none.
  std::string latest_preview_image(const Job& job) const;

  size_t queue_length() const;
  // The queue depth and the running job's progress, for /metrics.
  LiveMetrics live_metrics() const;
  // Counted as jobs change state here; the engine adds the model load time.
  WorkerMetrics& metrics() { return metrics_; }
  size_t queue_capacity() const { return opt_.queue_capacity; }
  bool has_running_job() const;

  // Engine side. next_job blocks until a job is queued; nullptr once shut down.
  std::shared_ptr<Job> next_job();
  // A step gets one event: its preview when it has one (added before its progress, which
  // is then left out), else its progress.
  void add_progress(Job& job, int step, int total);
  void add_preview(Job& job, int step, int total, const std::string& png_base64);
  // One image of the job is ready: its `complete` event (the job goes on).
  void add_image(Job& job, const nlohmann::json& complete_data);
  // Every image has been added: the job ends with [DONE].
  void complete(Job& job);
  void fail(Job& job, const std::string& message);
  void end_cancelled(Job& job);

  // Stops accepting jobs, cancels the queued ones, and the running one when asked to.
  void shutdown(bool cancel_running);
  // Drops finished jobs older than the retention time (also done on submit and find).
  void purge_expired();
  size_t job_count() const;

 private:
  void append(Job& job, std::string text);
  void notify_changed(Job& job);
  void end(Job& job, JobState state, std::string marker);
  void purge_expired_locked();

  const Options opt_;
  mutable std::mutex mu_;
  std::condition_variable work_;     // a job was queued, or shutdown
  std::condition_variable streams_;  // a stream closed
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<Job> running_;
  int open_streams_ = 0;
  uint64_t next_watch_id_ = 1;
  bool shutting_down_ = false;
  WorkerMetrics metrics_;
};

}  // namespace sd::server
