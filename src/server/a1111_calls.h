#pragma once
// The txt2img/img2img calls in progress on the A1111 routes, oldest first: what
// /sdapi/v1/progress reports on (A1111's shared.state: the oldest call still waiting for
// its images), and what /interrupt and /skip act on.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sd::server {

struct Job;

struct A1111Call {
  std::string kind;                        // "txt2img", "img2img"
  std::vector<std::shared_ptr<Job>> jobs;  // one per image, in A1111's order
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string timestamp;                   // A1111's job_timestamp
  std::atomic<bool> interrupted{false};
  std::atomic<bool> skipped{false};
};

class A1111Calls {
 public:
  void add(std::shared_ptr<A1111Call> call);
  void remove(const A1111Call* call);
  // The oldest call in progress, or null; calls `finished` says are done are dropped.
  std::shared_ptr<A1111Call> current(const std::function<bool(const A1111Call&)>& finished);

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<A1111Call>> calls_;
};

}  // namespace sd::server
