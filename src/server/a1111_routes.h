#pragma once
// AUTOMATIC1111's web API (sdapi/v1) on the worker's queue and engine: txt2img and img2img
// answered synchronously (each image a job of the registry, so /v1/jobs clients and these
// share one queue), progress, interrupt and skip, options, and the listings its clients
// read at start. Behind the same token check as every route (Basic credentials accepted).
#include "server/http/router.h"

namespace sd::server {

struct WorkerConfig;
class JobRegistry;
class WorkerState;

// Everything referenced must outlive the server.
void install_a1111_routes(http::Router& router, const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state);

}  // namespace sd::server
