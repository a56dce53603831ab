#pragma once
// Readiness and heartbeats to the hive/queen (worker-api.md section 4): POST
// <url>/v1/worker-heartbeat on every status change and every interval, from a thread of
// its own. Failures are logged and retried with backoff; they never stop the worker.
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace sd::server {

struct HeartbeatOptions {
  std::string callback_url;  // base URL; "/v1/worker-heartbeat" is appended
  std::string worker_id;
  std::string model_id;
  std::string device;
  std::string device_name;        // a GPU's name and memory, reported when set
  uint64_t device_memory_bytes = 0;
  int port = 0;
  std::chrono::milliseconds interval{30000};
  std::chrono::milliseconds request_timeout{5000};
};

class Heartbeat {
 public:
  explicit Heartbeat(HeartbeatOptions opt);
  ~Heartbeat();  // stop()
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // Sends `status` now (after the ones not sent yet), then every interval.
  void set_status(const std::string& status);
  // Ends the thread, then makes one last try for a change not sent yet (the "stopping").
  void stop();

  nlohmann::json payload(const std::string& status) const;

 private:
  void run();
  bool post(const std::string& status);

  const HeartbeatOptions opt_;
  const std::string url_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::string> pending_;  // changes not sent yet, oldest first
  std::string current_;              // repeated every interval
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace sd::server
