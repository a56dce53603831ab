#pragma once
// Helpers shared by the libFuzzer harnesses: the parsers that read files (safetensors,
// LoRA) get the fuzzer's bytes as a real file, and the harnesses that need reference data
// (the CLIP vocabulary, tiny model configs) find it as the tests do.
#include <cstddef>
#include <cstdint>
#include <string>

namespace sd::fuzz {

// The bytes as an anonymous in-memory file (memfd), named by a /proc/self/fd path that
// open() and mmap() accept like any file; closed when this goes out of scope.
class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size);
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Third-party data (CLIP vocabulary): SD_TEST_DATA, default ../shared/data beside the
// source tree. Exits with kMissingDataExit and a message when `sub` is missing there:
// scripts/fuzz.sh decides whether that is a skip (a developer's machine) or a failure (CI).
// Not 77: that is libFuzzer's own exit status for a finding.
inline constexpr int kMissingDataExit = 3;
std::string require_data(const std::string& sub);
// The tiny models' folder, as the tests find it: SD_FIXTURES, default ../shared/fixtures
// beside the source tree; exits with kMissingDataExit when it is missing.
std::string fixtures_dir();

}  // namespace sd::fuzz
