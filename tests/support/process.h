#pragma once
// Running the project's programs from tests: a blocking run with captured output, and a
// child that keeps running (a worker) until the test signals or waits for it.
#include <sys/types.h>

#include <string>
#include <vector>

namespace sd::test {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with the given arguments and extra "NAME=value" environment
// entries, waits, and returns its exit code and output.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

class ChildProcess {
 public:
  // Starts argv with stdout and stderr appended to `log_path`.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               const std::vector<std::string>& env = {});
  ~ChildProcess();  // kills the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits up to timeout_ms; returns the exit code, -1 for a signal, -2 on timeout.
  int wait(int timeout_ms);
  bool running();

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

}  // namespace sd::test
