#pragma once
// The worker's HTTP/1.1 server: event-driven (Boost.Beast on Asio), so a connection costs a
// socket and a few kilobytes, never a thread. One I/O thread serves every socket; route
// handlers run on a small pool, so a slow handler never delays the I/O of other clients.
//
// Hostile clients are bounded: a request's headers must be complete within header_timeout
// of the connection (or of the previous answer), its body within body_timeout after that;
// the guard (the bearer token) sees the headers before any body is read; a body over
// max_body_bytes is refused with 413 whatever its framing (Content-Length or chunked), after
// at most that many bytes were buffered; one source address holds at most
// max_connections_per_client sockets.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "server/http/router.h"

namespace sd::server::http {

struct ServerOptions {
  size_t max_body_bytes = size_t(32) << 20;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{120000};
  // One write (an answer, an event) to a client that does not read.
  std::chrono::milliseconds write_timeout{30000};
  size_t max_connections_per_client = 256;
  int handler_threads = 4;
};

class Server {
 public:
  // The router must outlive the server.
  Server(const Router& router, ServerOptions opt);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens with the system's largest backlog; false with the reason logged.
  bool listen(const std::string& host, int port);
  int port() const;
  // Serves on the I/O thread until stop().
  void start();
  // Stops accepting and closes connections waiting for a request at once; answers and
  // event streams in progress get up to `grace` to finish, then every socket is closed.
  void stop(std::chrono::milliseconds grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sd::server::http
