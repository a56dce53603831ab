#pragma once
// What a running process holds, from /proc/<pid>: resident memory (now and its peak),
// threads and open file descriptors.
#include <sys/types.h>

#include <cstddef>
#include <string>

namespace sd::test {

struct ProcessStats {
  size_t rss_kb = 0;   // VmRSS
  size_t peak_kb = 0;  // VmHWM: the largest RSS so far
  size_t threads = 0;
  size_t fds = 0;
};

ProcessStats process_stats(pid_t pid);
std::string describe(const ProcessStats& s);

}  // namespace sd::test
