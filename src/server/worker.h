#pragma once
// A whole worker process after its flags are parsed: binds the port, answers /health at
// once and /ready once the model is loaded, serves jobs, sends heartbeats, and shuts down
// cleanly on SIGINT/SIGTERM.
#include "server/worker_config.h"

namespace sd::server {

// Returns the process exit code: 0 after a signal, 1 when the port cannot be bound or the
// model cannot be loaded (the reason is logged).
int run_worker(const WorkerConfig& cfg);

}  // namespace sd::server
