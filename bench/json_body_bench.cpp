// What hostile request bodies cost the bounded JSON parser (io/json_bounded.h) next to
// nlohmann's plain parse: CPU seconds and peak memory per MB of body, each case run in a
// child process so its peak is its own. Prints; asserts nothing.
//
//   bench_json_body [MB]      (default 31: just under the worker's 32 MiB body limit)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/json_bounded.h"

namespace {

struct Case {
  const char* name;
  std::function<std::string(size_t)> body;  // a body of about this many bytes
};

std::string repeated(const std::string& open, const std::string& item, const std::string& close, size_t bytes) {
  std::string s = open;
  s.reserve(bytes + 16);
  while (s.size() + item.size() + close.size() < bytes) s += item;
  if (s.back() == ',') s.pop_back();
  return s + close;
}

std::vector<Case> cases() {
  return {
      {"array of 0s", [](size_t n) { return repeated("[", "0,", "]", n); }},
      {"array of {}", [](size_t n) { return repeated("[", "{},", "]", n); }},
      {"array of \"\"", [](size_t n) { return repeated("[", "\"\",", "]", n); }},
      {"object of short keys", [](size_t n) {
         std::string s = "{";
         for (size_t i = 0; s.size() < n; ++i) s.append(1, '"').append(std::to_string(i)).append("\":0,");
         s.back() = '}';
         return s;
       }},
      {"[[[...]]] at depth 32, repeated", [](size_t n) {
         return repeated("[", std::string(31, '[') + std::string(31, ']') + ",", "]", n);
       }},
      {"one long string", [](size_t n) {
         std::string s = "{\"prompt\":\"";
         s.append(n - 14, 'a');
         return s.append("\"}");
       }},
      {"1e400 after 0s", [](size_t n) { return repeated("[", "0,", ",1e400]", n); }},
  };
}

// Runs fn in a child; returns {cpu seconds, peak RSS MB of the child above its start}.
std::pair<double, double> measure(const std::function<void()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  const double cpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  return {cpu, double(ru.ru_maxrss) / 1024.0};
}

}  // namespace

int main(int argc, char** argv) {
  const double mb = argc > 1 ? std::atof(argv[1]) : 31.0;
  const size_t bytes = size_t(mb * 1048576);
  // The child's peak includes this process's own pages (the body it inherits): the
  // baseline case parses nothing.
  std::printf("%-34s %9s %12s %12s %12s %12s  %s\n", "body", "MB", "bounded s", "bounded MB", "nlohmann s", "nlohmann MB", "bounded answer");
  for (const Case& c : cases()) {
    const std::string body = c.body(bytes);
    const double body_mb = double(body.size()) / 1048576.0;
    const auto base = measure([] {});
    std::string answer = "accepted";
    try {
      sd::io::parse_json_bounded(body);
    } catch (const sd::Error& e) {
      answer = e.what();
    }
    const auto bounded = measure([&] {
      try {
        sd::io::parse_json_bounded(body);
      } catch (const sd::Error&) {
      }
    });
    const auto plain = measure([&] {
      try {
        volatile bool v = nlohmann::json::parse(body).is_null();
        (void)v;
      } catch (const std::exception&) {
      }
    });
    std::printf("%-34s %9.1f %12.3f %12.1f %12.3f %12.1f  %s\n", c.name, body_mb, bounded.first,
                bounded.second - base.second, plain.first, plain.second - base.second, answer.substr(0, 60).c_str());
  }
  return 0;
}
