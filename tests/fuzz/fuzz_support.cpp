#include "fuzz_support.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace sd::fuzz {

MemoryFile::MemoryFile(const uint8_t* data, size_t size) {
  fd_ = memfd_create("fuzz-input", MFD_CLOEXEC);
  if (fd_ < 0) {
    std::perror("memfd_create");
    std::abort();
  }
  for (size_t done = 0; done < size;) {
    const ssize_t n = write(fd_, data + done, size - done);
    if (n <= 0) {
      std::perror("write to memfd");
      std::abort();
    }
    done += size_t(n);
  }
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

MemoryFile::~MemoryFile() { close(fd_); }

namespace {
std::string require_dir(const char* env_name, const char* default_dir, const char* what, const std::string& sub) {
  const char* env = std::getenv(env_name);
  std::string dir = env ? std::string(env) : std::string(SD_SOURCE_DIR) + default_dir;
  if (!sub.empty()) dir += "/" + sub;
  if (!std::filesystem::is_directory(dir)) {
    std::fprintf(stderr, "%s %s not found (set %s)\n", what, dir.c_str(), env_name);
    std::exit(kMissingDataExit);
  }
  return dir;
}
}  // namespace

std::string require_data(const std::string& sub) {
  return require_dir("SD_TEST_DATA", "/../shared/data", "third-party data", sub);
}

std::string fixtures_dir() { return require_dir("SD_FIXTURES", "/../shared/fixtures", "test fixtures", ""); }

}  // namespace sd::fuzz
