#include "server/worker.h"

#include <signal.h>

#include <cstdlib>
#include <cstdio>
#include <memory>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "pipeline/device_description.h"
#include "server/a1111_routes.h"
#include "server/engine.h"
#include "server/fd_limit.h"
#include "server/heartbeat.h"
#include "server/worker_flags.h"
#include "server/http/server.h"
#include "server/job_registry.h"
#include "server/openai_routes.h"
#include "server/routes.h"
#include "server/worker_state.h"

namespace sd::server {

namespace {

using namespace std::chrono_literals;

// How long a stopping worker waits for its streams to send their end markers.
constexpr auto kStreamDrainTimeout = 3s;
// Then answers still being written get this long before every socket is closed.
constexpr auto kHttpStopGrace = 500ms;

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// SIGINT and SIGTERM are taken with sigwait by the main thread only: blocked here, before any
// thread starts, so every thread inherits the mask. A write to a closed socket must be an
// error code, not a signal.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// Waits for a stop signal, or for the model load to fail; returns the signal or 0.
int wait_for_stop(const sigset_t& signals, const WorkerState& state) {
  const timespec poll{0, 100 * 1000 * 1000};
  while (true) {
    int sig = sigtimedwait(&signals, nullptr, &poll);
    if (sig > 0) return sig;
    if (state.phase() == Phase::Failed) return 0;
  }
}

}  // namespace

std::string open_device(WorkerConfig& cfg) {
  if (cfg.device == "cpu") return "";
  try {
    const pipeline::DeviceDescription d = pipeline::describe_device(Device::parse(cfg.device));
    cfg.device_name = d.name;
    cfg.device_memory_bytes = d.total_bytes;
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

int worker_main(int argc, char** argv, const char* program, const char* device_kind) {
  auto flags = parse_worker_flags(argc, argv, program, device_kind);
  if (!flags.config) {
    if (flags.exit_code == 0)
      std::fputs(flags.message.c_str(), stdout);
    else
      std::fprintf(stderr, "%s: %s\n", program, flags.message.c_str());
    return flags.exit_code;
  }
  if (const std::string reason = open_device(*flags.config); !reason.empty()) {
    std::fprintf(stderr, "%s: %s\n", program, reason.c_str());
    return 1;
  }
  return run_worker(*flags.config);
}

int run_worker(const WorkerConfig& cfg) {
  sigset_t stop_signals = block_stop_signals();
  const std::string endpoint = cfg.host + ":" + std::to_string(cfg.port);
  log_info(cfg.program + " " + cfg.worker_id + " starting on " + endpoint + " with model " + cfg.model_id());
  if (!is_loopback(cfg.host) && cfg.api_token.empty())
    log_warn("listening on " + cfg.host + " without --api-token: anyone who can reach the port can submit jobs");
  if (cfg.device == "cpu") {
    if (!cfg.flash_attention)
      log_info("--use-flash-attn off: the CPU backend has only its fused attention, which stays in use");
    if (cfg.device_index != 0) log_info("--device applies to GPUs; the CPU worker ignores it");
  }

  size_t fd_limit = raise_open_file_limit();
  log_info("open file limit " + std::to_string(fd_limit));

  JobRegistry registry({cfg.queue_capacity, cfg.job_retention});
  WorkerState state;
  std::unique_ptr<Heartbeat> heartbeat;
  if (!cfg.callback_url.empty()) {
    heartbeat = std::make_unique<Heartbeat>(
        HeartbeatOptions{cfg.callback_url, cfg.worker_id, cfg.model_id(), cfg.device, cfg.device_name,
                         cfg.device_memory_bytes, cfg.port, cfg.heartbeat_interval});
    state.set_status_listener([hb = heartbeat.get()](const std::string& status) { hb->set_status(status); });
    heartbeat->set_status("starting");
  }

  http::Router router;
  install_routes(router, cfg, registry, state);
  install_openai_routes(router, cfg, registry, state);
  install_a1111_routes(router, cfg, registry, state);
  http::ServerOptions http_options;
  http_options.max_body_bytes = cfg.max_body_bytes;
  http_options.header_timeout = cfg.header_timeout;
  http_options.body_timeout = cfg.body_timeout;
  http_options.max_connections_per_client = cfg.max_connections_per_client;
  http::Server http(router, http_options);
  if (!http.listen(cfg.host, cfg.port)) return 1;
  http.start();
  log_info("listening on " + endpoint);

  Engine engine(cfg.load_options(), registry, state);
  engine.start();

  int sig = wait_for_stop(stop_signals, state);
  bool load_failed = sig == 0;
  bool loading = state.phase() == Phase::Loading;
  if (load_failed)
    log_error("cannot load the model " + cfg.model_id() + ": " + state.failure());
  else
    log_info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");

  // A second signal while shutting down means: now.
  std::thread([stop_signals] {
    int s = 0;
    sigwait(&stop_signals, &s);
    log_warn("second stop signal: exiting at once");
    std::_Exit(1);
  }).detach();

  state.set_stopping();
  registry.shutdown(!cfg.finish_running_on_shutdown);
  if (loading) {
    // A model load cannot be interrupted; the process exits without waiting for it.
    engine.abandon();
  } else {
    engine.join();
    registry.wait_streams_closed(kStreamDrainTimeout);
  }
  http.stop(kHttpStopGrace);
  if (heartbeat) heartbeat->stop();
  log_info(cfg.program + " " + cfg.worker_id + " stopped");
  if (loading) std::_Exit(0);
  return load_failed ? 1 : 0;
}

}  // namespace sd::server
