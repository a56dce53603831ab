// HTTP/1.1 framing as the worker's HTTP core reads it (src/server/http): the request line,
// header fields, Content-Length and chunked bodies, pipelined requests on one connection,
// through the same Beast parsers and steps as Connection (a head parser moved into a body
// parser with the body limit) and the same request_reading.h rules for what a failed read
// answers, which heads are refused, and what a head becomes. The first byte sets the body limit (small limits reach
// the 413 path), the second how many bytes arrive per read (a trickling client).
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <string_view>

#include "server/http/request_reading.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using sd::server::http::ReadStage;

// Feeds `parser` from `in`, `step` more bytes becoming readable each time it needs more,
// until `want(parser)` or an error; at the end of the input the peer has closed
// (put_eof, as the reads do). Returns the bytes consumed.
template <class Parser, class Want>
size_t feed(Parser& parser, std::string_view in, size_t step, Want want, beast::error_code& ec) {
  size_t used = 0, readable = std::min(step, in.size());
  while (!want(parser)) {
    ec = {};
    const size_t n = parser.put(net::buffer(in.data() + used, readable - used), ec);
    used += n;
    if (ec == bhttp::error::need_more || (!ec && n == 0)) {
      if (readable == in.size()) {
        ec = {};
        if (parser.got_some())
          parser.put_eof(ec);
        else
          ec = bhttp::error::end_of_stream;
        return used;
      }
      readable = std::min(in.size(), readable + step);
      continue;
    }
    if (ec) return used;
  }
  return used;
}

// What the connection would answer to a failed read: nothing, or a 4xx.
void check_answer(beast::error_code ec, ReadStage stage, size_t max_body) {
  if (!ec) return;
  const auto answer = sd::server::http::answer_to_read_error(ec, stage, max_body);
  if (answer && (answer->status < 400 || answer->status > 499)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max_body = size_t(data[0]) * 16;
  const size_t step = size_t(data[1] % 64) + 1;
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  for (int request = 0; request < 16 && !rest.empty(); ++request) {
    beast::error_code ec;
    bhttp::request_parser<bhttp::empty_body> head;
    head.body_limit(max_body);
    rest.remove_prefix(feed(head, rest, step, [](const auto& p) { return p.is_header_done(); }, ec));
    if (!head.is_header_done()) {
      check_answer(ec, ReadStage::Head, max_body);
      return 0;
    }

    if (auto refusal = sd::server::http::framing_refusal(head.get())) {
      if (refusal->status != 400 && refusal->status != 501) std::abort();
      return 0;  // answered and closed, as the connection does
    }
    sd::server::http::Request req;
    if (sd::server::http::request_from_head(head.get(), req) && (req.path.empty() || req.path[0] != '/')) std::abort();
    const bool keep_alive = head.get().keep_alive();
    if (!head.is_done()) {
      bhttp::request_parser<bhttp::string_body> body(std::move(head));
      body.body_limit(max_body);
      body.eager(true);
      rest.remove_prefix(feed(body, rest, step, [](const auto& p) { return p.is_done(); }, ec));
      if (!body.is_done()) {
        check_answer(ec, ReadStage::Body, max_body);
        return 0;
      }
      if (body.get().body().size() > max_body) std::abort();  // a body past the limit was buffered
    }
    if (!keep_alive) return 0;
  }
  return 0;
}
