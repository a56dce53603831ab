#pragma once
// A synchronous API's answer (an http::DeferredAnswer) that waits for a set of queued jobs:
// ready once every one of them has ended (completed, failed or cancelled), then built from
// them on the server's handler pool. No thread waits meanwhile: the job registry's watch
// wakes it.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "server/http/message.h"

namespace sd::server {

class JobRegistry;
struct Job;

class JobsAnswer : public http::DeferredAnswer {
 public:
  // `build` runs once, after every job has ended.
  using Build = std::function<http::Response()>;
  JobsAnswer(JobRegistry& registry, std::vector<std::shared_ptr<Job>> jobs, Build build);
  ~JobsAnswer() override;
  JobsAnswer(const JobsAnswer&) = delete;
  JobsAnswer& operator=(const JobsAnswer&) = delete;

  void start(std::function<void()> wake) override;
  std::optional<http::Response> ready() override;

 private:
  // Under the registry's lock (a watch callback) or with every job already ended.
  void fire_once();
  void unwatch_all();

  JobRegistry& registry_;
  const std::vector<std::shared_ptr<Job>> jobs_;
  Build build_;
  std::function<void()> ready_;
  std::atomic<bool> fired_{false};
  std::mutex watch_mu_;            // guards watch_ids_
  std::vector<uint64_t> watch_ids_;  // one per job while watching
};

}  // namespace sd::server
