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

std::string fixtures_dir() { return std::string(SD_SOURCE_DIR) + "/tests/fixtures"; }

std::string require_data(const std::string& sub) {
  const char* env = std::getenv("SD_TEST_DATA");
  const std::string dir = (env ? std::string(env) : std::string(SD_SOURCE_DIR) + "/../shared/data") + "/" + sub;
  if (!std::filesystem::is_directory(dir)) {
    std::fprintf(stderr, "third-party data %s not found (set SD_TEST_DATA)\n", dir.c_str());
    std::exit(kMissingDataExit);
  }
  return dir;
}

}  // namespace sd::fuzz
