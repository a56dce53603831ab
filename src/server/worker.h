#pragma once
// A whole worker process after its flags are parsed: binds the port, answers /health at
// once and /ready once the model is loaded, serves jobs, sends heartbeats, and shuts down
// cleanly on SIGINT/SIGTERM.
#include "server/worker_config.h"

namespace sd::server {

// Starts the GPU a cuda worker names (cfg.device) and records its name and memory in cfg
// for /info and heartbeats. Returns "" when it can be used, else the one-line reason
// (no driver, no such device). Nothing to do for the CPU.
std::string open_device(WorkerConfig& cfg);

// A worker program's whole main: flags (--help, --version and mistakes answered with their
// exit codes), the device opened (one line and exit 1 when it cannot be used), then
// run_worker. `device_kind` is "cpu" or "cuda".
int worker_main(int argc, char** argv, const char* program, const char* device_kind);

// Returns the process exit code: 0 after a signal, 1 when the port cannot be bound or the
// model cannot be loaded (the reason is logged).
int run_worker(const WorkerConfig& cfg);

}  // namespace sd::server
