#include "server/worker_state.h"

namespace sd::server {

void WorkerState::set_status_listener(StatusListener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

Phase WorkerState::phase() const {
  std::lock_guard<std::mutex> lock(mu_);
  return phase_;
}

std::shared_ptr<const pipeline::ModelInfo> WorkerState::model() const {
  std::lock_guard<std::mutex> lock(mu_);
  return model_;
}

std::string WorkerState::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void WorkerState::set_ready(pipeline::ModelInfo info) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ != Phase::Loading) return;
    model_ = std::make_shared<const pipeline::ModelInfo>(std::move(info));
    phase_ = Phase::Ready;
    changed_.notify_all();
  }
  notify("ready");
}

void WorkerState::set_failed(std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  failure_ = std::move(reason);
  phase_ = Phase::Failed;
  changed_.notify_all();
}

void WorkerState::set_stopping() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ == Phase::Stopping) return;
    phase_ = Phase::Stopping;
    changed_.notify_all();
  }
  notify("stopping");
}

void WorkerState::set_busy(bool busy) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ != Phase::Ready || busy_ == busy) return;
    busy_ = busy;
  }
  notify(busy ? "busy" : "ready");
}

Phase WorkerState::wait_loaded() const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return phase_ != Phase::Loading; });
  return phase_;
}

void WorkerState::notify(const std::string& status) {
  StatusListener listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listener = listener_;
  }
  if (listener) listener(status);
}

}  // namespace sd::server
