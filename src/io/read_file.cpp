#include "io/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace sd::io {

OpenedFile open_regular_file(const std::string& path) {
  // O_NONBLOCK: a FIFO opens at once instead of waiting for a writer, and is refused below;
  // it changes nothing for reading a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": " + std::strerror(errno));
  struct stat st {};
  const bool stated = fstat(fd, &st) == 0;
  const int stat_errno = errno;
  if (stated && S_ISREG(st.st_mode)) return {fd, uint64_t(st.st_size)};
  ::close(fd);
  if (!stated) throw Error(path + ": " + std::strerror(stat_errno));
  throw Error(path + (S_ISDIR(st.st_mode) ? ": is a directory" : ": not a regular file"));
}

bool read_exactly_at(int fd, void* out, size_t size, uint64_t offset) {
  char* p = static_cast<char*>(out);
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, size, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= size_t(n);
    offset += uint64_t(n);
  }
  return true;
}

std::string read_file_bounded(const std::string& path, uint64_t max_bytes, const std::string& what) {
  const OpenedFile file = open_regular_file(path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{file.fd};
  if (file.size > max_bytes)
    throw Error(path + ": " + std::to_string(file.size) + " bytes; " + what + " has at most " +
                (max_bytes % (1 << 20) ? std::to_string(max_bytes) + " bytes" : std::to_string(max_bytes >> 20) + " MB"));
  std::string bytes(file.size, '\0');
  errno = 0;
  if (!read_exactly_at(file.fd, bytes.data(), bytes.size(), 0))
    throw Error(path + ": " + (errno ? std::strerror(errno) : "the file shrank while it was read"));
  return bytes;
}

}  // namespace sd::io
