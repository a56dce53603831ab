#pragma once
// sd-worker-cpu as a child process on a loopback port reserved for it, with helpers to drive it.
#include <httplib.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/loopback.h"
#include "support/process.h"

namespace sd::test {

// The tiny SD1.5 fixture with the CLIP vocabulary from the test data, in float32 on one
// thread (the shared CI machine has two cores; one thread per process is the fastest).
std::vector<std::string> tiny_model_flags();

class WorkerProcess {
 public:
  // Starts sd-worker-cpu --worker-id w-e2e --port <reserved> <flags>. The port stays
  // reserved (loopback.h) while this object lives, so no other program takes it before the
  // worker binds it (its server shares it through SO_REUSEPORT).
  explicit WorkerProcess(const std::vector<std::string>& flags, const std::vector<std::string>& env = {});

  int port() const { return port_->port(); }
  pid_t pid() const { return process_->pid(); }
  httplib::Client client(const std::string& token = "") const;
  // Polls /ready until it answers 200; false if the process exits or the time runs out.
  bool wait_ready(std::chrono::milliseconds limit = std::chrono::seconds(60), const std::string& token = "");
  void signal(int sig) { process_->signal(sig); }
  // The exit code, -1 for a signal, -2 on timeout.
  int wait_exit(std::chrono::milliseconds limit) { return process_->wait(int(limit.count())); }
  bool running() { return process_->running(); }
  std::string log() const;  // everything the worker wrote to stdout and stderr

 private:
  std::unique_ptr<ReservedPort> port_;
  std::string log_path_;
  std::unique_ptr<ChildProcess> process_;
};

// POSTs a job and returns its id (empty, with a test failure, when it is not accepted).
std::string submit_job(httplib::Client& client, const nlohmann::json& body);

}  // namespace sd::test
