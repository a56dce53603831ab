#pragma once
// SHA-256 of a file, streamed (constant memory whatever the size): the hashes A1111 and
// Civitai identify checkpoints and LoRAs by.
#include <cstdint>
#include <string>

namespace sd::io {

// Lowercase hex digest of the file's bytes from `offset` to its end. Throws sd::Error
// naming the file when it cannot be read or is shorter than `offset`.
std::string sha256_file_hex(const std::string& path, uint64_t offset = 0);

}  // namespace sd::io
