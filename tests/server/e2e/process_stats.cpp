#include "server/e2e/process_stats.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sd::test {

ProcessStats process_stats(pid_t pid) {
  ProcessStats s;
  std::string base = "/proc/" + std::to_string(pid);
  std::ifstream status(base + "/status");
  std::string line;
  auto value = [&](const char* key) { return size_t(std::stoull(line.substr(std::string(key).size()))); };
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = value("VmRSS:");
    else if (line.rfind("VmHWM:", 0) == 0) s.peak_kb = value("VmHWM:");
    else if (line.rfind("Threads:", 0) == 0) s.threads = value("Threads:");
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(base + "/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++s.fds;
  return s;
}

std::string describe(const ProcessStats& s) {
  std::ostringstream out;
  out << "rss " << s.rss_kb / 1024 << " MiB (peak " << s.peak_kb / 1024 << " MiB), " << s.threads << " threads, "
      << s.fds << " fds";
  return out.str();
}

}  // namespace sd::test
