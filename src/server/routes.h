#pragma once
// The HTTP routes of worker-api.md section 2 on a cpp-httplib server: health, readiness,
// info, and the job routes, behind bearer-token auth; and the embedded web page
// (web_assets.h) at / for browsers and /assets/*, which is public. Handlers never touch the pipeline;
// they talk to the job registry and read the worker state.
namespace httplib {
class Server;
}

namespace sd::server {

struct WorkerConfig;
class JobRegistry;
class WorkerState;

// Everything referenced must outlive the server.
void install_routes(httplib::Server& svr, const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state);

}  // namespace sd::server
