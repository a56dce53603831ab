// The SHA-256 cache behind A1111's "Model hash": a cached hash is used without reading the
// file, any change of size or modification time hashes again, and the cache file is
// hostile input (too large, not JSON, malformed entries) that costs a rehash, never a
// wrong hash for a changed file or a failure.
#include "io/file_hash_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <vector>

#include "io/file_sha256.h"
#include "io/json_file.h"
#include "support/test_support.h"

namespace sd::io {
namespace {

namespace fs = std::filesystem;

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Replaces the file's bytes with others of the same length and puts its modification time
// back: only a hash from the cache can still be the old one.
void tamper_keeping_size_and_mtime(const std::string& path, const std::string& bytes) {
  const auto mtime = fs::last_write_time(path);
  ASSERT_EQ(fs::file_size(path), bytes.size());
  write(path, bytes);
  fs::last_write_time(path, mtime);
}

struct HashCache : ::testing::Test {
  std::string dir = test::temp_dir("file-hash-cache");
  std::string file = dir + "/model.safetensors";
  std::string cache = dir + "/cache/sd-worker/file-hashes.json";
  void SetUp() override { write(file, std::string(3000, 'a')); }
};

TEST_F(HashCache, UnchangedFileIsNotReadAgain) {
  const std::string first = cached_sha256_file_hex(file, cache);
  EXPECT_EQ(first, sha256_file_hex(file));
  ASSERT_TRUE(fs::is_regular_file(cache)) << "the directories are created";
  tamper_keeping_size_and_mtime(file, std::string(3000, 'b'));
  EXPECT_EQ(cached_sha256_file_hex(file, cache), first) << "the cached hash, without reading the file";
  // The key is the absolute path: a relative name of the same file finds the entry.
  const auto cwd = fs::current_path();
  fs::current_path(dir);
  EXPECT_EQ(cached_sha256_file_hex("model.safetensors", cache), first);
  fs::current_path(cwd);
}

TEST_F(HashCache, ChangedModificationTimeOrSizeHashesAgain) {
  const std::string first = cached_sha256_file_hex(file, cache);
  tamper_keeping_size_and_mtime(file, std::string(3000, 'b'));
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::nanoseconds(1));
  const std::string second = cached_sha256_file_hex(file, cache);
  EXPECT_NE(second, first);
  EXPECT_EQ(second, sha256_file_hex(file));
  EXPECT_EQ(cached_sha256_file_hex(file, cache), second) << "and remembers the new one";

  const auto mtime = fs::last_write_time(file);
  write(file, std::string(3001, 'b'));
  fs::last_write_time(file, mtime);
  EXPECT_EQ(cached_sha256_file_hex(file, cache), sha256_file_hex(file)) << "a new size";
}

TEST_F(HashCache, CorruptCacheIsIgnoredAndReplaced) {
  fs::create_directories(fs::path(cache).parent_path());
  const std::vector<std::string> corrupt = {"{not json", "[1, 2]", "{\"sha256\": 7}", "", std::string(100, '{'),
                                            std::string(8, '[') + std::string(8, ']'),  // deeper than the bound
                                            "{\"sha256\": {\"a\": \"\xff\xfe\"}}"};
  for (const std::string& bad : corrupt) {
    SCOPED_TRACE(bad);
    write(cache, bad);
    EXPECT_EQ(cached_sha256_file_hex(file, cache), sha256_file_hex(file));
    const Json doc = read_json_file(cache);  // replaced by a valid one holding the entry
    EXPECT_TRUE(doc["sha256"].contains(fs::canonical(file).string()));
  }
  // Nothing of the writes is left beside the cache.
  for (const auto& e : fs::directory_iterator(fs::path(cache).parent_path()))
    EXPECT_EQ(e.path().filename(), "file-hashes.json");
}

// An entry that matches the file but says something else: trusted only when well formed
// and when the cache file is within its bound.
Json poisoned_entry(const std::string& file, const Json& hash) {
  const uint64_t size = fs::file_size(file);
  const int64_t mtime =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::file_clock::to_sys(fs::last_write_time(file)).time_since_epoch()).count();
  return Json{{"size", size}, {"mtime_ns", mtime}, {"sha256", hash}};
}

TEST_F(HashCache, WellFormedEntryIsTrustedAndMalformedOnesAreNot) {
  fs::create_directories(fs::path(cache).parent_path());
  const std::string key = fs::canonical(file).string();
  const std::string fake(64, 'f');
  write(cache, Json{{"sha256", {{key, poisoned_entry(file, fake)}}}}.dump());
  EXPECT_EQ(cached_sha256_file_hex(file, cache), fake) << "the entry is read (size and mtime as stat gives them)";

  for (const Json& bad : {Json(std::string(63, 'f')), Json(std::string(64, 'F')), Json(std::string(64, 'g')), Json(7)}) {
    SCOPED_TRACE(bad.dump());
    write(cache, Json{{"sha256", {{key, poisoned_entry(file, bad)}}}}.dump());
    EXPECT_EQ(cached_sha256_file_hex(file, cache), sha256_file_hex(file));
  }
  Json negative_size = poisoned_entry(file, fake);
  negative_size["size"] = -1;
  Json text_mtime = poisoned_entry(file, fake);
  text_mtime["mtime_ns"] = std::to_string(text_mtime["mtime_ns"].get<int64_t>());
  for (const Json& bad : {negative_size, text_mtime, Json::array({1, 2})}) {
    SCOPED_TRACE(bad.dump());
    write(cache, Json{{"sha256", {{key, bad}}}}.dump());
    EXPECT_EQ(cached_sha256_file_hex(file, cache), sha256_file_hex(file));
  }
}

TEST_F(HashCache, OversizedCacheIsNotParsed) {
  fs::create_directories(fs::path(cache).parent_path());
  std::string text = Json{{"sha256", {{fs::canonical(file).string(), poisoned_entry(file, std::string(64, 'f'))}}}}.dump();
  text += std::string(kMaxHashCacheBytes + 1 - text.size(), ' ');  // valid JSON, one byte too long
  write(cache, text);
  EXPECT_EQ(cached_sha256_file_hex(file, cache), sha256_file_hex(file));
  EXPECT_LT(fs::file_size(cache), kMaxHashCacheBytes) << "replaced";
}

TEST_F(HashCache, EntriesAreBounded) {
  fs::create_directories(fs::path(cache).parent_path());
  Json entries = Json::object();
  for (size_t i = 0; i < kMaxHashCacheEntries; ++i)
    entries[dir + "/gone-" + std::to_string(i)] = Json{{"size", 1}, {"mtime_ns", 1}, {"sha256", std::string(64, '0')}};
  write(cache, Json{{"sha256", entries}}.dump());
  const std::string hash = cached_sha256_file_hex(file, cache);
  const Json doc = read_json_file(cache);
  EXPECT_LE(doc["sha256"].size(), kMaxHashCacheEntries);
  EXPECT_EQ(doc["sha256"][fs::canonical(file).string()]["sha256"], hash);
}

TEST_F(HashCache, UnwritableCacheStillGivesTheHash) {
  write(dir + "/blocker", "a file where the cache's folder would be");
  EXPECT_EQ(cached_sha256_file_hex(file, dir + "/blocker/file-hashes.json"), sha256_file_hex(file));
  EXPECT_NE(test::error_of([&] { cached_sha256_file_hex(dir + "/missing", cache); }).find(dir + "/missing"),
            std::string::npos);
}

TEST(HashCacheFile, FollowsXdgCacheHomeElseHome) {
  {
    test::ScopedEnv xdg("XDG_CACHE_HOME", "/x/cache");
    EXPECT_EQ(default_hash_cache_file(), "/x/cache/sd-worker/file-hashes.json");
  }
  test::ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
  test::ScopedEnv home("HOME", "/home/someone");
  EXPECT_EQ(default_hash_cache_file(), "/home/someone/.cache/sd-worker/file-hashes.json");
}

}  // namespace
}  // namespace sd::io
