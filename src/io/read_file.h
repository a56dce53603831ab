#pragma once
// Reading files that come from outside (model configs, vocabularies, images named on the
// command line, weights): what is not a regular file is refused before anything waits on
// it (opening a FIFO for reading blocks until a writer comes), and a whole-file read is
// refused before it starts when the file is larger than what it can hold.
#include <cstddef>
#include <cstdint>
#include <string>

namespace sd::io {

struct OpenedFile {
  int fd = -1;  // read-only; the caller closes it
  uint64_t size = 0;
};

// `path`, which must be a regular file (links followed), opened for reading; throws
// sd::Error "<path>: <problem>" ("No such file or directory", "is a directory", "not a
// regular file").
OpenedFile open_regular_file(const std::string& path);

// The whole of `path`. A file over `max_bytes` is refused unread: "<path>: <n> bytes; <what>
// has at most <max> MB" (what: "a JSON file", "an image file", ...).
std::string read_file_bounded(const std::string& path, uint64_t max_bytes, const std::string& what);

// `size` bytes at `offset`, retried across short reads; false at an early end of the file
// or on a read error.
bool read_exactly_at(int fd, void* out, size_t size, uint64_t offset);

}  // namespace sd::io
