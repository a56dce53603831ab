// The worker's malloc asks for transparent huge pages (backend/cpu/startup_environment.cpp)
// unless the user set GLIBC_TUNABLES: the kernel marks a heap madvised for them with the
// "hg" flag in /proc/PID/smaps.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "server/e2e/worker_process.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

// The VmFlags of the process's [heap] mapping ("" when it has none).
std::string heap_flags(pid_t pid) {
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  bool in_heap = false;
  while (std::getline(smaps, line)) {
    if (line.find("[heap]") != std::string::npos) in_heap = true;
    else if (in_heap && line.rfind("VmFlags:", 0) == 0) return line + " ";
  }
  return "";
}

std::string environment_entry(pid_t pid, const std::string& name) {
  std::ifstream environ("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(environ, entry, '\0'))
    if (entry.rfind(name + "=", 0) == 0) return entry;
  return "";
}

TEST(MallocHugePages, TheWorkerHeapIsMadvisedUnlessTheUserSetGlibcTunables) {
  SD_SKIP_WITHOUT_DATA("clip");
  // This test program runs with the variable itself, and its children inherit the
  // environment: remove it so the worker starts as a user's shell would start it.
  unsetenv("GLIBC_TUNABLES");
  {
    WorkerProcess w(tiny_model_flags());
    ASSERT_TRUE(w.wait_ready()) << w.log();
    EXPECT_EQ(environment_entry(w.pid(), "GLIBC_TUNABLES"), "GLIBC_TUNABLES=glibc.malloc.hugetlb=1");
    EXPECT_NE(heap_flags(w.pid()).find(" hg "), std::string::npos) << heap_flags(w.pid());
  }
  {
    WorkerProcess w(tiny_model_flags(), {"GLIBC_TUNABLES=glibc.malloc.arena_max=2"});
    ASSERT_TRUE(w.wait_ready()) << w.log();
    EXPECT_EQ(environment_entry(w.pid(), "GLIBC_TUNABLES"), "GLIBC_TUNABLES=glibc.malloc.arena_max=2");
    const std::string flags = heap_flags(w.pid());
    EXPECT_NE(flags, "");
    EXPECT_EQ(flags.find(" hg "), std::string::npos) << flags;
  }
}

}  // namespace
}  // namespace sd::test
