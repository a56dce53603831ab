#pragma once
// SHA-256 of whole files remembered between runs, as AUTOMATIC1111's cache.json remembers
// its checkpoint hashes: a checkpoint of several GB is hashed once, not at every load.
//
// An entry is keyed by the file's absolute path and holds only while the file keeps the
// size and modification time (in ns) it was hashed at. The cache file is a small JSON
// object read as untrusted input: one over kMaxHashCacheBytes or not valid JSON is ignored
// with a log line (and replaced at the next write), malformed entries are skipped, and it
// is replaced whole through a rename, so a reader never sees half of it. Two processes
// writing at once lose one entry, which is hashed again later.
#include <cstddef>
#include <string>

namespace sd::io {

inline constexpr size_t kMaxHashCacheBytes = size_t(4) << 20;
inline constexpr size_t kMaxHashCacheEntries = 4096;

// $XDG_CACHE_HOME/sd-worker/file-hashes.json, else ~/.cache/sd-worker/file-hashes.json.
std::string default_hash_cache_file();

// The lowercase hex SHA-256 of `path`: the cached one when its entry in `cache_file` matches
// the file's size and modification time (the file is not read), else computed, stored and
// returned. A cache that cannot be written costs a log line, never the hash. Throws
// sd::Error naming `path` when the file cannot be read.
std::string cached_sha256_file_hex(const std::string& path, const std::string& cache_file);

}  // namespace sd::io
