#include "io/hub_cache.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/replace_file.h"

namespace sd::io {

namespace fs = std::filesystem;

namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_repo_part(const std::string& s) {
  if (s.empty() || s.size() > 96 || !is_word_char(s.front()) || !is_word_char(s.back())) return false;
  for (char c : s)
    if (!is_word_char(c) && c != '-' && c != '.') return false;
  return true;
}

// Names for the file system: the characters allowed, no empty, "." or ".." components.
bool is_safe_relative_path(const std::string& s, bool (*allowed)(char)) {
  if (s.empty() || s.size() > 4096 || s.front() == '/' || s.back() == '/') return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('/', start);
    if (end == std::string::npos) end = s.size();
    const std::string part = s.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  for (char c : s)
    if (!allowed(c)) return false;
  return true;
}

bool repo_file_char(char c) { return uint8_t(c) >= 0x20 && c != 0x7F && c != '\\'; }
bool revision_char(char c) { return is_word_char(c) || c == '-' || c == '.' || c == '/' || c == '+' || c == '@'; }

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (uint8_t(c) >= 0x20 && uint8_t(c) < 0x7F) ? c : '?';
  return out;
}

}  // namespace

bool is_valid_repo_id(const std::string& repo_id) {
  if (repo_id.find("--") != std::string::npos || repo_id.find("..") != std::string::npos) return false;
  const size_t slash = repo_id.find('/');
  if (slash == std::string::npos) return is_repo_part(repo_id);
  return is_repo_part(repo_id.substr(0, slash)) && is_repo_part(repo_id.substr(slash + 1));
}

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

namespace detail {

void check_repo_id(const std::string& repo_id) {
  if (!is_valid_repo_id(repo_id))
    throw Error("\"" + sanitize(repo_id) + "\" is not a Hugging Face repo id (expected org/name)");
}

void check_revision(const std::string& revision) {
  if (!is_safe_relative_path(revision, revision_char) || revision.size() > 255 || revision.front() == '.')
    throw Error("\"" + sanitize(revision) + "\" is not a usable revision (branch, tag or commit)");
}

void check_repo_file(const std::string& filename, const std::string& what) {
  if (!is_safe_relative_path(filename, repo_file_char))
    throw Error(what + ": unsafe file name \"" + sanitize(filename) + "\"");
}

void check_etag(const std::string& etag, const std::string& what) {
  bool ok = !etag.empty() && etag.size() <= 128 && etag.front() != '.';
  for (char c : etag) ok = ok && (is_word_char(c) || c == '-' || c == '.');
  if (!ok) throw Error(what + ": the server sent an unusable ETag \"" + sanitize(etag) + "\"");
}

void check_commit(const std::string& commit, const std::string& what) {
  if (!is_commit_hash(commit))
    throw Error(what + ": the server sent \"" + sanitize(commit) + "\" as the commit, not a 40-hex hash");
}

HubCache::HubCache(const std::string& cache_dir, const std::string& repo_id) : cache_dir_(cache_dir) {
  if (cache_dir.empty()) throw Error("Hugging Face Hub cache: no cache folder given");
  check_repo_id(repo_id);
  repo_folder_ = "models--" + repo_id;
  for (size_t p; (p = repo_folder_.find('/')) != std::string::npos;) repo_folder_.replace(p, 1, "--");
  repo_dir_ = (fs::path(cache_dir) / repo_folder_).string();
}

std::string HubCache::blob_path(const std::string& etag) const { return repo_dir_ + "/blobs/" + etag; }
std::string HubCache::incomplete_path(const std::string& etag) const { return blob_path(etag) + ".incomplete"; }
std::string HubCache::lock_path(const std::string& etag) const {
  return (fs::path(cache_dir_) / ".locks" / repo_folder_ / (etag + ".lock")).string();
}
std::string HubCache::snapshot_dir(const std::string& commit) const { return repo_dir_ + "/snapshots/" + commit; }
std::string HubCache::pointer_path(const std::string& commit, const std::string& filename) const {
  return snapshot_dir(commit) + "/" + filename;
}

std::optional<std::string> HubCache::read_ref(const std::string& revision) const {
  std::ifstream in(repo_dir_ + "/refs/" + revision);
  if (!in) return std::nullopt;
  std::string commit;
  in >> commit;
  if (!is_commit_hash(commit)) return std::nullopt;
  return commit;
}

void HubCache::write_ref(const std::string& revision, const std::string& commit) const {
  const fs::path ref = fs::path(repo_dir_) / "refs" / revision;
  fs::create_directories(ref.parent_path());
  // No newline, as huggingface_hub writes it.
  replace_file(ref.string(), [&](std::ofstream& out) { out << commit; });
}

std::optional<std::string> HubCache::resolve_commit(const std::string& revision) const {
  if (is_commit_hash(revision)) return revision;
  return read_ref(revision);
}

std::optional<std::string> HubCache::cached_file(const std::string& commit, const std::string& filename) const {
  const std::string p = pointer_path(commit, filename);
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p;  // follows the symlink: the blob is there
  return std::nullopt;
}

void HubCache::link(const std::string& commit, const std::string& filename, const std::string& etag) const {
  const fs::path pointer = pointer_path(commit, filename);
  fs::create_directories(pointer.parent_path());
  // Relative, as huggingface_hub makes it, so the cache folder can move.
  std::string target;
  for (size_t depth = 0, n = std::count(filename.begin(), filename.end(), '/') + 2; depth < n; ++depth) target += "../";
  target += "blobs/" + etag;
  const fs::path tmp = pointer.string() + ".tmp-" + std::to_string(getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp);
  fs::rename(tmp, pointer);
}

std::vector<std::string> HubCache::snapshot_files(const std::string& commit) const {
  std::vector<std::string> files;
  const fs::path root = snapshot_dir(commit);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code fec;
    if (fs::is_regular_file(it->path(), fec)) files.push_back(it->path().lexically_relative(root).generic_string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace detail
}  // namespace sd::io
