#pragma once
// The command line and environment of a worker binary (worker-api.md section 1), shared by
// sd-worker-cpu and sd-worker-cuda so their flags cannot drift apart.
#include <optional>
#include <string>

#include "server/worker_config.h"

namespace sd::server {

struct FlagsOutcome {
  std::optional<WorkerConfig> config;  // set when the worker should start
  int exit_code = 0;                   // otherwise: 0 after --help, 2 for a missing or bad flag
  std::string message;                 // the help text, or one line naming the flag and the reason
};

// device_kind is "cpu" or "cuda": it decides what --dtype auto means and how the device is named.
FlagsOutcome parse_worker_flags(int argc, const char* const* argv, const std::string& program,
                                const std::string& device_kind);

}  // namespace sd::server
