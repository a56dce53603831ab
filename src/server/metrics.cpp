#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "server/version.h"

namespace sd::server {

namespace {

// Buckets: a denoising step takes tens of milliseconds (tiny models, GPUs) to a minute
// (SDXL at 2048² on a small CPU); a whole job up to half an hour.
const std::vector<double> kStepBuckets = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
const std::vector<double> kJobBuckets = {0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};

constexpr const char* kOutcomeNames[] = {"completed", "failed", "cancelled"};

// The shortest text that reads back as the same double; Prometheus' spelling of infinity.
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  void sample(std::string_view name, double value, std::string_view labels = {}) {
    out_.append(name);
    if (!labels.empty()) out_.append("{").append(labels).append("}");
    out_.append(" ").append(number(value)).append("\n");
  }
  void gauge(std::string_view name, std::string_view help, double value) {
    family(name, "gauge", help);
    sample(name, value);
  }
  void histogram(std::string_view name, std::string_view help, const Histogram& h) {
    family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.counts().size(); ++i) {
      cumulative += h.counts()[i];
      const double le = i < h.upper_bounds().size() ? h.upper_bounds()[i] : INFINITY;
      sample(bucket, double(cumulative), "le=\"" + number(le) + "\"");
    }
    sample(std::string(name) + "_sum", h.sum());
    sample(std::string(name) + "_count", double(h.count()));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  // Buckets are "less than or equal": the first bound not below the value.
  const size_t i = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  ++counts_[i];
  sum_ += value;
  ++count_;
}

WorkerMetrics::WorkerMetrics() : step_seconds_(kStepBuckets), job_seconds_(kJobBuckets) {}

void WorkerMetrics::job_ended(JobOutcome outcome, std::optional<double> run_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++jobs_[int(outcome)];
  if (run_seconds) job_seconds_.observe(*run_seconds);
}

void WorkerMetrics::step_done(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  step_seconds_.observe(seconds);
}

void WorkerMetrics::image_generated() {
  std::lock_guard<std::mutex> lock(mu_);
  ++images_;
}

void WorkerMetrics::model_loaded(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  model_load_seconds_ = seconds;
}

std::string WorkerMetrics::exposition(const LiveMetrics& live) const {
  Writer w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    w.family("sd_worker_jobs_total", "counter", "Jobs that ended, by outcome (cancelled: in the queue or while running).");
    for (int i = 0; i < 3; ++i)
      w.sample("sd_worker_jobs_total", double(jobs_[i]), std::string("outcome=\"") + kOutcomeNames[i] + "\"");
    w.family("sd_worker_images_generated_total", "counter", "Images generated (one per complete event).");
    w.sample("sd_worker_images_generated_total", double(images_));
    w.histogram("sd_worker_step_duration_seconds",
                "Time between consecutive denoising steps of a job (previews included; a job's first step, "
                "which follows the text encoding, is not counted).",
                step_seconds_);
    w.histogram("sd_worker_job_duration_seconds", "Time a job ran, from leaving the queue to its end.", job_seconds_);
    if (model_load_seconds_)
      w.gauge("sd_worker_model_load_seconds", "Seconds the model took to load (download included).",
              *model_load_seconds_);
  }
  w.gauge("sd_worker_queue_depth", "Jobs waiting in the queue.", double(live.queue_depth));
  w.gauge("sd_worker_running_jobs", "Jobs running now (0 or 1).", live.job_running ? 1 : 0);
  w.gauge("sd_worker_running_job_step", "Denoising steps the running job has done (0 when none runs).",
          double(live.running_step));
  w.gauge("sd_worker_running_job_steps", "Denoising steps the running job has in all (0 when none runs).",
          double(live.running_total));
  w.gauge("process_resident_memory_bytes", "Resident memory of the worker process.", double(live.resident_bytes));
  w.family("sd_worker_buffer_pool_bytes", "gauge",
           "Tensor memory of the CPU buffer pool: handed out (in_use) and kept for reuse (cached).");
  w.sample("sd_worker_buffer_pool_bytes", double(live.pool.in_use), "state=\"in_use\"");
  w.sample("sd_worker_buffer_pool_bytes", double(live.pool.cached), "state=\"cached\"");
  w.gauge("sd_worker_buffer_pool_peak_bytes", "High-water mark of the CPU buffer pool's in_use bytes.",
          double(live.pool.peak_in_use));
  w.family("sd_worker_build_info", "gauge", "The worker's build: version and git commit (empty when unknown).");
  w.sample("sd_worker_build_info", 1,
           "version=\"" + label_value(worker_version()) + "\",git_commit=\"" + label_value(worker_git_commit()) + "\"");
  return w.take();
}

}  // namespace sd::server
