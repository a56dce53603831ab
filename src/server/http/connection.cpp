#include "server/http/connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <sstream>

#include "server/api_error.h"
#include "server/http/request_reading.h"

namespace sd::server::http {

namespace {

using namespace std::chrono_literals;

// How long a refused client may go on sending before its socket is closed.
constexpr auto kLingerTime = 2s;
const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

Response error_response(const ApiError& e) {
  Response res;
  send_error(res, e);
  return res;
}

}  // namespace

Connection::Connection(tcp::socket socket, ConnectionHub& hub, std::string address)
    : stream_(std::move(socket)), hub_(hub), address_(std::move(address)), keepalive_(stream_.get_executor()) {
  ++hub_.per_client[address_];
}

Connection::~Connection() {
  auto it = hub_.per_client.find(address_);
  if (it != hub_.per_client.end() && --it->second == 0) hub_.per_client.erase(it);
  hub_.open.erase(this);
  if (hub_.stopping && hub_.open.empty() && hub_.on_last_closed) hub_.on_last_closed();
}

void Connection::start() {
  hub_.open[this] = weak_from_this();
  read_header();
}

void Connection::refuse(Response res) {
  hub_.open[this] = weak_from_this();
  keep_alive_ = false;
  answer_and_close(std::move(res));
}

void Connection::close_if_idle() {
  if (phase_ == Phase::Reading) close_now();
}

void Connection::close_now() {
  phase_ = Phase::Closing;
  deferred_.reset();  // a client that left gets no answer: whoever waited for it learns so
  keepalive_.cancel();
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void Connection::read_header() {
  phase_ = Phase::Reading;
  header_parser_.emplace();
  header_parser_->body_limit(hub_.opt.max_body_bytes);  // a Content-Length over it fails the header read
  req_ = Request();
  req_.remote_address = address_;
  head_request_ = false;
  stream_.expires_after(hub_.opt.header_timeout);
  bhttp::async_read_header(stream_, buffer_, *header_parser_,
                           [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void Connection::on_read_error(beast::error_code ec, ReadStage stage) {
  if (stage == ReadStage::Body) body_parser_.reset();  // frees what was buffered before the error
  if (auto answer = answer_to_read_error(ec, stage, hub_.opt.max_body_bytes))
    answer_and_close(error_response(*answer));
  else
    close_now();
}

void Connection::on_header(beast::error_code ec) {
  if (phase_ == Phase::Closing) return;
  if (ec) return on_read_error(ec, ReadStage::Head);
  const auto& head = header_parser_->get();
  version_ = head.version();
  keep_alive_ = head.keep_alive();
  head_request_ = head.method() == bhttp::verb::head;
  if (auto refusal = framing_refusal(head)) {
    answer_and_close(error_response(*refusal));
    return;
  }
  if (!request_from_head(head, req_)) {
    answer_and_close(error_response({400, "bad_request", "malformed request target"}));
    return;
  }
  if (auto refusal = hub_.router.check(req_)) {
    if (header_parser_->is_done()) {
      write_answer(std::move(*refusal));
    } else {
      answer_and_close(std::move(*refusal));
    }
    return;
  }
  if (header_parser_->is_done()) {
    handle();
    return;
  }
  if (beast::iequals(head[bhttp::field::expect], "100-continue")) {
    stream_.expires_after(hub_.opt.write_timeout);
    net::async_write(stream_, net::buffer(kContinue), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || self->phase_ == Phase::Closing) return self->close_now();
      self->read_body();
    });
    return;
  }
  read_body();
}

void Connection::read_body() {
  body_parser_.emplace(std::move(*header_parser_));
  header_parser_.reset();
  body_parser_->body_limit(hub_.opt.max_body_bytes);
  // A chunked body's size is unknown: room for the limit is reserved (address space only,
  // pages are touched as data arrives), so the string never doubles past it while growing.
  if (!body_parser_->content_length()) body_parser_->get().body().reserve(hub_.opt.max_body_bytes);
  stream_.expires_after(hub_.opt.body_timeout);
  bhttp::async_read(stream_, buffer_, *body_parser_,
                    [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
}

void Connection::on_body(beast::error_code ec) {
  if (phase_ == Phase::Closing) return;
  if (ec) return on_read_error(ec, ReadStage::Body);
  req_.body = std::move(body_parser_->get().body());
  body_parser_.reset();
  handle();
}

void Connection::handle() {
  phase_ = Phase::Handling;
  header_parser_.reset();
  // The connection goes back to the I/O thread with the answer, never staying behind on
  // the pool: its last owner must release it on the I/O thread, whose state it updates.
  auto io = stream_.get_executor();
  const Router& router = hub_.router;
  net::post(hub_.handlers, [self = shared_from_this(), io, &router, req = std::move(req_)]() mutable {
    Response res = router.handle(req);
    net::post(io, [self = std::move(self), res = std::move(res)]() mutable { self->on_answer(std::move(res)); });
  });
}

void Connection::on_answer(Response res) {
  if (phase_ == Phase::Closing) return;
  if (res.deferred) {
    wait_for_answer(std::move(res.deferred));
  } else if (res.stream) {
    start_stream(std::move(res));
  } else {
    write_answer(std::move(res));
  }
}

void Connection::prepare_answer(Response res, bool keep_alive) {
  phase_ = Phase::Writing;
  out_ = {};
  out_.version(version_);
  out_.result(static_cast<unsigned>(res.status));
  for (const auto& [name, value] : res.headers.fields()) out_.insert(name, value);
  out_.body() = std::move(res.body);
  out_.keep_alive(keep_alive);
  out_.prepare_payload();
  // An answer to HEAD states its Content-Length and sends no body: a client reads none, and
  // would take the body's bytes for its next answer.
  if (head_request_) out_.body().clear();
}

void Connection::write_answer(Response res) {
  prepare_answer(std::move(res), keep_alive_ && !hub_.stopping);
  stream_.expires_after(hub_.opt.write_timeout);
  bhttp::async_write(stream_, out_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) return self->close_now();
    self->out_ = {};
    self->after_answer();
  });
}

void Connection::after_answer() {
  if (phase_ == Phase::Closing) return;
  if (!keep_alive_ || hub_.stopping) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    close_now();
    return;
  }
  read_header();
}

void Connection::answer_and_close(Response res) {
  keep_alive_ = false;
  prepare_answer(std::move(res), false);
  stream_.expires_after(hub_.opt.write_timeout);
  bhttp::async_write(stream_, out_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) return self->close_now();
    self->out_ = {};
    self->linger();
  });
}

void Connection::linger() {
  phase_ = Phase::Closing;
  header_parser_.reset();
  body_parser_.reset();
  buffer_.clear();
  buffer_.shrink_to_fit();
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(kLingerTime);
  struct Discard {
    std::shared_ptr<Connection> self;
    void operator()(beast::error_code ec, size_t) {
      if (ec) return self->close_now();
      self->stream_.async_read_some(net::buffer(self->discard_), std::move(*this));
    }
  };
  Discard{shared_from_this()}({}, 0);
}

void Connection::start_stream(Response res) {
  phase_ = Phase::Streaming;
  body_stream_ = std::move(res.stream);
  stream_head_ = {};
  stream_head_.version(version_);
  stream_head_.result(static_cast<unsigned>(res.status));
  for (const auto& [name, value] : res.headers.fields()) stream_head_.insert(name, value);
  // A stream is the connection's last answer: nothing is read from it meanwhile but its end.
  keep_alive_ = false;
  stream_head_.keep_alive(false);
  stream_head_.chunked(true);
  stream_head_writer_.emplace(stream_head_);
  writing_ = true;
  stream_.expires_after(hub_.opt.write_timeout);
  bhttp::async_write_header(stream_, *stream_head_writer_, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->writing_ = false;
    if (ec || self->phase_ == Phase::Closing) return self->close_now();
    self->stream_head_writer_.reset();
    self->watch_client(Phase::Streaming);
    std::weak_ptr<Connection> weak = self;
    auto executor = self->stream_.get_executor();
    self->body_stream_->start([weak, executor] {
      net::post(executor, [weak] {
        if (auto conn = weak.lock()) conn->on_stream_wake();
      });
    });
  });
}

void Connection::watch_client(Phase phase) {
  // On the socket itself: the stream's write deadlines must not cut this read short.
  stream_.socket().async_read_some(net::buffer(discard_),
                                   [self = shared_from_this(), phase](beast::error_code ec, size_t) {
                                     if (self->phase_ != phase) return;
                                     if (ec) return self->close_now();
                                     self->watch_client(phase);
                                   });
}

void Connection::wait_for_answer(std::shared_ptr<DeferredAnswer> deferred) {
  phase_ = Phase::Waiting;
  deferred_ = std::move(deferred);
  // Like a stream, the connection's last answer: what the client sends meanwhile is not
  // kept, so no request can be read after it.
  keep_alive_ = false;
  stream_.expires_never();
  watch_client(Phase::Waiting);
  std::weak_ptr<Connection> weak = weak_from_this();
  auto executor = stream_.get_executor();
  deferred_->start([weak, executor] {
    net::post(executor, [weak] {
      if (auto conn = weak.lock()) conn->on_deferred_wake();
    });
  });
}

void Connection::on_deferred_wake() {
  wake_pending_ = true;
  if (!polling_) poll_deferred();
}

void Connection::poll_deferred() {
  if (phase_ != Phase::Waiting) return;
  polling_ = true;
  wake_pending_ = false;
  auto io = stream_.get_executor();
  net::post(hub_.handlers, [self = shared_from_this(), io, deferred = deferred_]() mutable {
    std::optional<Response> res;
    try {
      res = deferred->ready();
    } catch (const std::exception& e) {
      res.emplace();
      send_error(*res, {500, "internal", e.what()});
    }
    deferred.reset();  // released here, on the pool, should it be the last owner
    net::post(io, [self = std::move(self), res = std::move(res)]() mutable {
      self->polling_ = false;
      if (self->phase_ != Phase::Waiting) return;
      if (res) {
        self->deferred_.reset();
        self->write_answer(std::move(*res));
      } else if (self->wake_pending_) {
        self->poll_deferred();
      }
    });
  });
}

void Connection::on_stream_wake() {
  wake_pending_ = true;
  if (!writing_) pump_stream();
}

void Connection::pump_stream() {
  if (phase_ != Phase::Streaming) return;
  wake_pending_ = false;
  auto chunk = body_stream_->pull();
  if (chunk.data.empty() && !chunk.last) {
    arm_keepalive();
    return;
  }
  write_chunk(std::move(chunk.data), chunk.last);
}

void Connection::write_chunk(std::string data, bool last) {
  keepalive_.cancel();
  writing_ = true;
  chunk_ = std::move(data);
  chunk_is_last_ = last;
  stream_.expires_after(hub_.opt.write_timeout);
  auto done = [self = shared_from_this()](beast::error_code ec, size_t) {
    self->writing_ = false;
    if (ec || self->phase_ == Phase::Closing) return self->close_now();  // the client went away
    if (self->chunk_is_last_) {
      self->body_stream_.reset();
      self->after_answer();
    } else if (self->wake_pending_) {
      self->pump_stream();
    } else {
      self->arm_keepalive();
    }
  };
  if (last && chunk_.empty()) {
    net::async_write(stream_, bhttp::make_chunk_last(), std::move(done));
  } else if (last) {
    // The final data and the terminating chunk in one write.
    chunk_ = (std::ostringstream() << std::hex << chunk_.size()).str() + "\r\n" + chunk_ + "\r\n0\r\n\r\n";
    net::async_write(stream_, net::buffer(chunk_), std::move(done));
  } else {
    net::async_write(stream_, bhttp::make_chunk(net::buffer(chunk_)), std::move(done));
  }
}

void Connection::arm_keepalive() {
  if (phase_ != Phase::Streaming) return;
  stream_.expires_never();
  keepalive_.expires_after(body_stream_->keepalive_interval());
  keepalive_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->writing_ || self->phase_ != Phase::Streaming) return;
    self->write_chunk(self->body_stream_->keepalive_text(), false);
  });
}

}  // namespace sd::server::http
