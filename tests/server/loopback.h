#pragma once
// Test helpers for HTTP on loopback: a reserved port, a cpp-httplib server on a free port in
// this process (a fake hive), the worker's own HTTP server with a router, and a reader for
// Server-Sent Events.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server/http/server.h"

namespace sd::test {

// A client that drops a stream makes the server's next write fail; that must be an error
// code in the test process, not SIGPIPE.
inline void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

// A loopback TCP port held for this object's lifetime: bound (with SO_REUSEPORT) and not
// listening, so connections to it are refused at once and the system hands it to nobody
// else. A server that sets SO_REUSEPORT as well (cpp-httplib does, in this process or a
// child) can still bind it and listen: the port is bound once and handed over, never free
// in between, unlike a port number read back from a socket closed before use.
class ReservedPort {
 public:
  ReservedPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    const int yes = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      close(fd_);
      throw std::runtime_error("cannot bind a loopback port");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~ReservedPort() { close(fd_); }
  ReservedPort(const ReservedPort&) = delete;
  ReservedPort& operator=(const ReservedPort&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Accepts connections into the backlog and never serves them: a peer that hangs.
  void listen_without_serving() {
    if (::listen(fd_, 16) != 0) throw std::runtime_error("listen() failed");
  }

 private:
  int fd_;
  int port_ = 0;
};

struct LoopbackServer {
  httplib::Server svr;
  std::thread thread;
  int port = 0;

  // Call after installing the routes.
  void start() {
    ignore_sigpipe();
    port = svr.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { svr.listen_after_bind(); });
  }
  void stop() {
    svr.stop();
    if (thread.joinable()) thread.join();
  }
  ~LoopbackServer() { stop(); }
};

// The worker's HTTP server on a free loopback port in this process; install routes into
// `router` before start().
struct WorkerHttpServer {
  sd::server::http::Router router;
  std::unique_ptr<sd::server::http::Server> server;
  int port = 0;

  void start(sd::server::http::ServerOptions opt = {}) {
    ignore_sigpipe();
    server = std::make_unique<sd::server::http::Server>(router, opt);
    if (!server->listen("127.0.0.1", 0)) throw std::runtime_error("cannot listen on loopback");
    port = server->port();
    server->start();
  }
  ~WorkerHttpServer() {
    if (server) server->stop(std::chrono::milliseconds(0));
  }
};

struct SseMessage {
  std::string event;  // empty for plain data lines (the end markers)
  std::string data;
  bool comment = false;
};

// Splits complete messages ("...\n\n") off the front of `buffer`.
inline std::vector<SseMessage> take_sse_messages(std::string& buffer) {
  std::vector<SseMessage> out;
  size_t end;
  while ((end = buffer.find("\n\n")) != std::string::npos) {
    std::string block = buffer.substr(0, end);
    buffer.erase(0, end + 2);
    SseMessage m;
    size_t pos = 0;
    while (pos <= block.size()) {
      size_t nl = block.find('\n', pos);
      std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (line.rfind(":", 0) == 0) m.comment = true;
      else if (line.rfind("event: ", 0) == 0) m.event = line.substr(7);
      else if (line.rfind("data: ", 0) == 0) m.data += line.substr(6);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    out.push_back(std::move(m));
  }
  return out;
}

// GETs an event stream, handing each message to on_message until the server ends the
// stream or on_message returns false (the client then drops the connection).
inline httplib::Result read_sse(httplib::Client& cli, const std::string& path,
                                const std::function<bool(const SseMessage&)>& on_message,
                                const httplib::Headers& headers = {}) {
  std::string buffer;
  return cli.Get(path, headers, [&](const char* data, size_t n) {
    buffer.append(data, n);
    for (const auto& m : take_sse_messages(buffer))
      if (!on_message(m)) return false;
    return true;
  });
}

// Every message of a stream, in order, read to its end.
inline std::vector<SseMessage> read_whole_sse(httplib::Client& cli, const std::string& path,
                                              const httplib::Headers& headers = {}) {
  std::vector<SseMessage> all;
  read_sse(cli, path, [&](const SseMessage& m) { all.push_back(m); return true; }, headers);
  return all;
}

}  // namespace sd::test
