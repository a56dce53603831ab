#include "io/file_hash_cache.h"

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "io/file_sha256.h"
#include "io/json_bounded.h"
#include "io/replace_file.h"
#include "io/user_dirs.h"

namespace sd::io {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

std::optional<FileStamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileStamp{uint64_t(st.st_size), int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

bool is_sha256_hex(const Json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The entry as stored, or nullopt for anything else in its place.
std::optional<std::pair<FileStamp, std::string>> parse_entry(const Json& e) {
  if (!e.is_object()) return std::nullopt;
  auto size = e.find("size"), mtime = e.find("mtime_ns"), hash = e.find("sha256");
  if (size == e.end() || !size->is_number_unsigned() || mtime == e.end() || !mtime->is_number_integer() ||
      hash == e.end() || !is_sha256_hex(*hash))
    return std::nullopt;
  return std::pair{FileStamp{size->get<uint64_t>(), mtime->get<int64_t>()}, hash->get<std::string>()};
}

// The "sha256" object of the cache file: empty when the file is absent, and (with a log
// line) when it is too large or not what this code writes.
Json read_entries(const std::string& cache_file) {
  std::error_code ec;
  const uint64_t bytes = fs::file_size(cache_file, ec);
  if (ec) return Json::object();  // no cache yet
  const auto ignore = [&](const std::string& why) {
    log_warn("hash cache " + cache_file + " ignored: " + why);
    return Json::object();
  };
  if (bytes > kMaxHashCacheBytes)
    return ignore(std::to_string(bytes) + " bytes, more than " + std::to_string(kMaxHashCacheBytes));
  std::ifstream in(cache_file, std::ios::binary);
  std::string text(bytes, '\0');
  if (!in.read(text.data(), std::streamsize(bytes))) return ignore("cannot be read");
  Json doc;
  try {
    doc = parse_json_bounded(text, JsonLimits{4, 8 * kMaxHashCacheEntries + 8, 4096});
  } catch (const Error& e) {
    return ignore(e.what());
  }
  if (!doc.is_object() || !doc.contains("sha256") || !doc["sha256"].is_object())
    return ignore("not an object with a \"sha256\" object");
  return std::move(doc["sha256"]);
}

// Keeps the cache under its bound: entries of files gone or changed go first, then the
// first by name.
void make_room(Json& entries) {
  if (entries.size() < kMaxHashCacheEntries) return;
  for (auto it = entries.begin(); it != entries.end();) {
    auto e = parse_entry(*it);
    if (!e || stamp_of(it.key()) != e->first)
      it = entries.erase(it);
    else
      ++it;
  }
  while (entries.size() >= kMaxHashCacheEntries) entries.erase(entries.begin());
}

void write_entries(const std::string& cache_file, const Json& entries) {
  std::error_code ec;
  fs::create_directories(fs::path(cache_file).parent_path(), ec);
  try {
    replace_file(cache_file, [&](std::ofstream& out) { out << Json{{"sha256", entries}}.dump(1) << '\n'; });
  } catch (const Error& e) {
    log_warn(std::string("hash cache not written: ") + e.what());
  }
}

}  // namespace

std::string default_hash_cache_file() { return user_cache_dir() + "/sd-worker/file-hashes.json"; }

std::string cached_sha256_file_hex(const std::string& path, const std::string& cache_file) {
  const std::optional<FileStamp> before = stamp_of(path);
  if (!before) return sha256_file_hex(path);  // not a regular file: its own error
  std::error_code ec;
  fs::path key = fs::canonical(path, ec);
  if (ec) key = fs::absolute(path).lexically_normal();

  // One reader-writer at a time in this process; other processes are kept out by the rename.
  static std::mutex mutex;
  std::unique_lock lock(mutex);
  // Read once: what another process writes while this one hashes is lost, and hashed again later.
  Json entries = read_entries(cache_file);
  if (auto it = entries.find(key.string()); it != entries.end())
    if (auto e = parse_entry(*it); e && e->first == *before) return e->second;
  lock.unlock();

  std::string hash = sha256_file_hex(path);
  if (stamp_of(path) != before) return hash;  // changed while being read: nothing to remember

  lock.lock();
  make_room(entries);
  entries[key.string()] = Json{{"size", before->size}, {"mtime_ns", before->mtime_ns}, {"sha256", hash}};
  write_entries(cache_file, entries);
  return hash;
}

}  // namespace sd::io
