#pragma once
// The worker's Prometheus metrics (GET /metrics, text exposition format 0.0.4): counters
// and histograms that the job registry and the engine update as jobs change state, and the
// gauges read at scrape time (queue, running job, memory, build).
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/buffer_pool.h"

namespace sd::server {

// Observations counted into fixed buckets, as a Prometheus histogram.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // per bucket, +Inf last
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

enum class JobOutcome { Completed, Failed, Cancelled };

// What is read when scraped rather than counted.
struct LiveMetrics {
  size_t queue_depth = 0;
  bool job_running = false;
  int running_step = 0;   // steps the running job has done
  int running_total = 0;  // and has in all
  uint64_t resident_bytes = 0;
  PoolStats pool;
};

// Thread-safe: HTTP threads read it while the engine thread updates it.
class WorkerMetrics {
 public:
  WorkerMetrics();
  // A job ended; run_seconds is how long it ran (none for a job cancelled in the queue).
  void job_ended(JobOutcome outcome, std::optional<double> run_seconds);
  // The time between two consecutive denoising steps of a job.
  void step_done(double seconds);
  void image_generated();
  void model_loaded(double seconds);

  // Every metric in the text format, with `live` and the build (version, git commit).
  std::string exposition(const LiveMetrics& live) const;

 private:
  mutable std::mutex mu_;
  uint64_t jobs_[3] = {0, 0, 0};  // by JobOutcome
  Histogram step_seconds_;
  Histogram job_seconds_;
  uint64_t images_ = 0;
  std::optional<double> model_load_seconds_;
};

}  // namespace sd::server
