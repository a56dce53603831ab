#include "server/engine.h"

#include <chrono>
#include <new>

#include "core/error.h"
#include "core/log.h"
#include "io/image.h"
#include "server/job_registry.h"
#include "server/worker_state.h"

namespace sd::server {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

Engine::Engine(pipeline::LoadOptions load, JobRegistry& registry, WorkerState& state)
    : load_(std::move(load)), registry_(registry), state_(state) {}

Engine::~Engine() { join(); }

void Engine::start() { thread_ = std::thread([this] { run(); }); }

void Engine::join() {
  if (thread_.joinable()) thread_.join();
}

void Engine::abandon() {
  if (thread_.joinable()) thread_.detach();
}

void Engine::run() {
  std::unique_ptr<pipeline::Pipeline> pipe;
  auto t0 = Clock::now();
  try {
    pipe = pipeline::Pipeline::load(load_);
  } catch (const std::exception& e) {
    state_.set_failed(e.what());
    return;
  }
  const auto& info = pipe->info();
  log_info("model " + info.version + " loaded in " + std::to_string(seconds_since(t0)) + " s (" + info.device + ", " +
           std::string(dtype_name(info.dtype)) + ")");
  state_.set_ready(info);
  while (auto job = registry_.next_job()) {
    state_.set_busy(true);
    run_job(*pipe, *job);
    if (registry_.queue_length() == 0) state_.set_busy(false);
  }
}

void Engine::run_job(pipeline::Pipeline& pipe, Job& job) {
  const auto& req = job.spec.request;
  pipeline::GenerationCallbacks cb;
  cb.on_progress = [&](int step, int total) { registry_.add_progress(job, step, total); };
  cb.on_preview = [&](int step, int total, const io::Image& preview) {
    registry_.add_preview(job, step, total, io::base64_encode(io::encode_png(preview)));
  };
  cb.should_cancel = [&] { return job.cancel_requested.load(); };

  auto t0 = Clock::now();
  log_info("job " + job.id + " running: " + job.spec.operation + " " + std::to_string(req.width) + "x" +
           std::to_string(req.height) + ", " + std::to_string(req.steps) + " steps, " + pipeline::sampler_id(req.sampler));
  try {
    if (job.cancel_requested) throw Cancelled();
    pipeline::GenerationResult result = pipe.generate(req, cb);
    std::vector<uint8_t> png = io::encode_png(result.image, {{"parameters", result.parameters}});
    registry_.complete(job, {{"type", "complete"},
                             {"image", io::base64_encode(png)},
                             {"format", "png"},
                             {"seed", result.seed},
                             {"width", result.image.width},
                             {"height", result.image.height},
                             {"timings", result.timings}});
    log_info("job " + job.id + " completed in " + std::to_string(seconds_since(t0)) + " s");
  } catch (const Cancelled&) {
    registry_.end_cancelled(job);
    log_info("job " + job.id + " cancelled");
  } catch (const std::bad_alloc&) {
    registry_.fail(job, "out of memory");
    log_error("job " + job.id + " failed: out of memory");
  } catch (const std::exception& e) {
    registry_.fail(job, e.what());
    log_error("job " + job.id + " failed: " + e.what());
  }
}

}  // namespace sd::server
