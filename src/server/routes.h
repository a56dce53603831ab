#pragma once
// The HTTP routes of worker-api.md section 2: health, readiness, info, and the job routes,
// behind bearer-token auth. Handlers never touch the pipeline; they talk to the job
// registry and read the worker state.
#include "server/http/router.h"

namespace sd::server {

struct WorkerConfig;
class JobRegistry;
class WorkerState;

// Everything referenced must outlive the server.
void install_routes(http::Router& router, const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state);

}  // namespace sd::server
