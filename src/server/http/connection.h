#pragma once
// One client connection of http::Server: reads requests (headers, the guard, then the body
// within their deadlines and limits), hands them to the router on the handler pool, and
// writes the answers or streams. Everything but the handler runs on the I/O thread.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "server/http/request_reading.h"
#include "server/http/router.h"
#include "server/http/server.h"

namespace sd::server::http {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

class Connection;

// What the connections of one server share; touched on the I/O thread only.
struct ConnectionHub {
  const Router& router;
  const ServerOptions& opt;
  net::thread_pool& handlers;
  std::unordered_map<std::string, size_t> per_client;         // open sockets per source address
  std::unordered_map<Connection*, std::weak_ptr<Connection>> open;
  bool stopping = false;
  std::function<void()> on_last_closed;                       // while stopping
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ConnectionHub& hub, std::string address);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Answers with `res` at once, without reading a request, and closes.
  void refuse(Response res);
  // Shutdown: a connection waiting for (or reading) a request closes now; one that is
  // answering finishes that answer, then closes.
  void close_if_idle();
  void close_now();

 private:
  enum class Phase { Reading, Handling, Waiting, Writing, Streaming, Closing };

  void read_header();
  void on_header(beast::error_code ec);
  void read_body();
  void on_body(beast::error_code ec);
  // Answers a failed read (request_reading.h) and closes, or just closes.
  void on_read_error(beast::error_code ec, ReadStage stage);
  void handle();
  void on_answer(Response res);
  // Fills out_ with `res` for this request (no body for HEAD).
  void prepare_answer(Response res, bool keep_alive);
  void write_answer(Response res);
  void after_answer();
  // Answers a request whose body may be unread, then closes.
  void answer_and_close(Response res);
  // Lets a client still sending a body read the answer: stops sending, discards what
  // arrives for a short while, then closes.
  void linger();

  void start_stream(Response res);
  // Keeps a read pending while streaming or waiting for a deferred answer: it holds the
  // connection and sees the client leave.
  void watch_client(Phase phase);
  void on_stream_wake();
  void pump_stream();
  void write_chunk(std::string data, bool last);
  void arm_keepalive();

  void wait_for_answer(std::shared_ptr<DeferredAnswer> deferred);
  void on_deferred_wake();
  // Asks the deferred answer, on the handler pool, whether it is ready.
  void poll_deferred();

  beast::tcp_stream stream_;
  ConnectionHub& hub_;
  const std::string address_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  Request req_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_request_ = false;
  Phase phase_ = Phase::Reading;
  bhttp::response<bhttp::string_body> out_;

  std::shared_ptr<DeferredAnswer> deferred_;
  bool polling_ = false;

  std::shared_ptr<BodyStream> body_stream_;
  bhttp::response<bhttp::empty_body> stream_head_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> stream_head_writer_;
  std::string chunk_;
  bool chunk_is_last_ = false;
  bool writing_ = false;
  bool wake_pending_ = false;
  net::steady_timer keepalive_;
  std::array<char, 4096> discard_{};
};

}  // namespace sd::server::http
