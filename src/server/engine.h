#pragma once
// The generation engine: one thread that loads the pipeline, owns it, and runs the queued
// jobs one at a time in arrival order. No other thread touches the pipeline.
//
// Previews are what the worker was started with (WorkerConfig::preview): by default the
// pipeline's latent-to-RGB approximation, the cheapest honest preview (a linear map of
// the latent channels at latent resolution, where a VAE decode per preview would cost
// about as much as a step); with TAESD, a full-size TAESD decode.
#include <atomic>
#include <thread>

#include "pipeline/pipeline.h"

namespace sd::server {

class JobRegistry;
class WorkerState;
struct Job;

class Engine {
 public:
  Engine(pipeline::LoadOptions load, JobRegistry& registry, WorkerState& state);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the thread: load (the state becomes Ready or Failed), then run jobs until the
  // registry shuts down.
  void start();
  void join();
  // Lets the process exit while a model load that cannot be interrupted is still running.
  void abandon();

 private:
  void run();
  void run_job(pipeline::Pipeline& pipe, Job& job);

  const pipeline::LoadOptions load_;
  JobRegistry& registry_;
  WorkerState& state_;
  std::thread thread_;
};

}  // namespace sd::server
