#pragma once
// Plain TCP sockets for clients no HTTP library would be: ones that connect and say
// nothing, trickle a header byte by byte, send endless chunked bodies, or never read.
// Loopback source addresses other than 127.0.0.1 (any 127.x.y.z) stand for other clients.
#include <chrono>
#include <string>
#include <string_view>

namespace sd::test {

class RawSocket {
 public:
  // Connects (blocking) from `source` to 127.0.0.1:port; valid() is false on failure.
  RawSocket(int port, const std::string& source = "127.0.0.1");
  ~RawSocket();
  RawSocket(RawSocket&& other) noexcept;
  RawSocket& operator=(RawSocket&&) = delete;
  RawSocket(const RawSocket&) = delete;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool send(std::string_view data);
  // Reads what arrives within `wait` (appending to the return value) until the peer closes
  // or the time is up; `closed` says whether the peer closed (or reset) the connection.
  std::string read_for(std::chrono::milliseconds wait, bool* closed = nullptr);
  // Reads one whole HTTP response with a Content-Length body (or up to the close).
  std::string read_response(std::chrono::milliseconds wait);
  // Waits until the peer closes the connection; false when it is still open after `wait`.
  bool wait_closed(std::chrono::milliseconds wait);
  void close();

 private:
  int fd_ = -1;
};

// The status code of an HTTP response text, 0 when there is none.
int status_of(const std::string& response);
// The body of an HTTP response text.
std::string body_of(const std::string& response);

}  // namespace sd::test
