#pragma once
// Where the worker is in its life (loading, ready, failed, stopping) and whether it is
// busy, shared by the HTTP routes, the engine thread and the heartbeat sender. The model
// description is set once, when loading succeeds, and never changes after.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "pipeline/pipeline.h"

namespace sd::server {

enum class Phase { Loading, Ready, Failed, Stopping };

class WorkerState {
 public:
  // Called with "ready", "busy" or "stopping" on each change (heartbeats), outside the lock.
  using StatusListener = std::function<void(const std::string& status)>;
  void set_status_listener(StatusListener listener);

  Phase phase() const;
  std::shared_ptr<const pipeline::ModelInfo> model() const;  // null until loaded
  std::string failure() const;

  void set_ready(pipeline::ModelInfo info);
  void set_failed(std::string reason);
  void set_stopping();
  void set_busy(bool busy);  // ignored unless ready

  // Blocks until the phase is no longer Loading.
  Phase wait_loaded() const;

 private:
  void notify(const std::string& status);

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  Phase phase_ = Phase::Loading;
  bool busy_ = false;
  std::shared_ptr<const pipeline::ModelInfo> model_;
  std::string failure_;
  StatusListener listener_;
};

}  // namespace sd::server
