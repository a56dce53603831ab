#include "server/http/server.h"

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <thread>
#include <vector>

#include "core/log.h"
#include "server/api_error.h"
#include "server/http/connection.h"

namespace sd::server::http {

namespace {

using namespace std::chrono_literals;

// File descriptors kept free for model files, the heartbeat client and logs.
constexpr size_t kReservedDescriptors = 64;
// After a failed accept (out of descriptors) the acceptor waits this long before the next.
constexpr auto kAcceptRetryDelay = 50ms;

size_t descriptor_budget() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return lim.rlim_cur > kReservedDescriptors * 2 ? size_t(lim.rlim_cur) - kReservedDescriptors : size_t(lim.rlim_cur) / 2;
}

}  // namespace

struct Server::Impl {
  Impl(const Router& router, ServerOptions options)
      : opt(options), handlers(size_t(std::max(1, options.handler_threads))), hub{router, opt, handlers, {}, {}, false, {}},
        acceptor(ioc), retry_timer(ioc), grace_timer(ioc), max_connections(descriptor_budget()) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // Out of descriptors (or a transient error): the pending connections wait in the backlog.
        retry_timer.expires_after(kAcceptRetryDelay);
        retry_timer.async_wait([this](beast::error_code e) {
          if (!e) accept();
        });
        return;
      }
      admit(std::move(socket));
      accept();
    });
  }

  void admit(tcp::socket socket) {
    beast::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    std::string address = remote.address().to_string();
    auto conn = std::make_shared<Connection>(std::move(socket), hub, address);
    if (hub.open.size() >= max_connections) {
      conn->refuse(error_answer({503, "too_many_connections", "the worker holds too many connections", "", 1}));
    } else if (hub.per_client[address] > opt.max_connections_per_client) {  // this one is counted already
      conn->refuse(error_answer({503, "too_many_connections",
                                 "too many connections from " + address + " (limit " +
                                     std::to_string(opt.max_connections_per_client) + ")",
                                 "", 1}));
    } else {
      conn->start();
    }
  }

  static Response error_answer(const ApiError& e) {
    Response res;
    send_error(res, e);
    return res;
  }

  // On the I/O thread.
  void begin_stop(std::chrono::milliseconds grace) {
    hub.stopping = true;
    beast::error_code ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
    hub.on_last_closed = [this] { grace_timer.cancel(); };
    for (auto& conn : open_connections()) conn->close_if_idle();
    if (hub.open.empty()) return;
    grace_timer.expires_after(grace);
    grace_timer.async_wait([this](beast::error_code ec) {
      if (ec) return;
      for (auto& conn : open_connections()) conn->close_now();
    });
  }

  // A copy: closing a connection may remove it from hub.open.
  std::vector<std::shared_ptr<Connection>> open_connections() {
    std::vector<std::shared_ptr<Connection>> out;
    for (auto& [raw, weak] : hub.open)
      if (auto c = weak.lock()) out.push_back(std::move(c));
    return out;
  }

  ServerOptions opt;
  net::thread_pool handlers;
  ConnectionHub hub;
  // Declared after the hub: pending handlers, destroyed with the context, still touch it.
  net::io_context ioc{1};
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  net::steady_timer grace_timer;
  const size_t max_connections;
  std::thread io_thread;
};

Server::Server(const Router& router, ServerOptions opt) : impl_(std::make_unique<Impl>(router, opt)) {}

Server::~Server() { stop(0ms); }

bool Server::listen(const std::string& host, int port) {
  beast::error_code ec;
  auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    log_error("cannot listen on " + host + ": not an IP address");
    return false;
  }
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  // A supervisor (or a test) may hold the port bound until the worker takes it over.
  using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  if (!ec) acc.set_option(reuse_port(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    log_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    beast::error_code ignored;
    acc.close(ignored);
    return false;
  }
  return true;
}

int Server::port() const {
  beast::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void Server::start() {
  impl_->accept();
  impl_->io_thread = std::thread([this] { impl_->ioc.run(); });
}

void Server::stop(std::chrono::milliseconds grace) {
  if (!impl_->io_thread.joinable()) return;
  net::post(impl_->ioc, [this, grace] { impl_->begin_stop(grace); });
  impl_->io_thread.join();
  impl_->handlers.join();
  // Connections still owned by unrun handlers go with the context, after the timers.
  impl_->hub.on_last_closed = nullptr;
}

}  // namespace sd::server::http
