#pragma once
// The Hugging Face Hub cache layout, as huggingface_hub writes it, so that models fetched
// by either are shared:
//   <cache>/models--<org>--<name>/blobs/<etag>              file contents (etag: git sha1 or LFS sha256)
//   <cache>/models--<org>--<name>/blobs/<etag>.incomplete   a download in progress (resumable)
//   <cache>/models--<org>--<name>/snapshots/<commit>/<file> relative symlink to ../../blobs/<etag>
//   <cache>/models--<org>--<name>/refs/<revision>           the commit a branch or tag pointed to
//   <cache>/.locks/models--<org>--<name>/<etag>.lock        held while a blob downloads
// Names that reach the file system (repo id, revision, file names, etags, commits) are
// validated first: a hostile server cannot make us write outside the cache.
#include <optional>
#include <string>
#include <vector>

namespace sd::io {

// "org/name" or "name" with the Hub's rules (letters, digits, '-', '_', '.'; no "--" or "..").
bool is_valid_repo_id(const std::string& repo_id);
bool is_commit_hash(const std::string& s);  // 40 lower-case hex digits

namespace detail {

// Each throws sd::Error naming `what` when the name is unsafe or malformed.
void check_repo_id(const std::string& repo_id);
void check_revision(const std::string& revision);
void check_repo_file(const std::string& filename, const std::string& what);
void check_etag(const std::string& etag, const std::string& what);
void check_commit(const std::string& commit, const std::string& what);

class HubCache {
 public:
  HubCache(const std::string& cache_dir, const std::string& repo_id);

  const std::string& repo_dir() const { return repo_dir_; }
  std::string blob_path(const std::string& etag) const;
  std::string incomplete_path(const std::string& etag) const;
  std::string lock_path(const std::string& etag) const;
  std::string snapshot_dir(const std::string& commit) const;
  std::string pointer_path(const std::string& commit, const std::string& filename) const;

  // The commit recorded for a branch or tag, if any.
  std::optional<std::string> read_ref(const std::string& revision) const;
  void write_ref(const std::string& revision, const std::string& commit) const;
  // `revision` itself when it is a commit hash, else what refs/ records for it.
  std::optional<std::string> resolve_commit(const std::string& revision) const;

  // The snapshot path of a file whose blob is present.
  std::optional<std::string> cached_file(const std::string& commit, const std::string& filename) const;
  // Points snapshots/<commit>/<filename> at blobs/<etag> (replacing what was there).
  void link(const std::string& commit, const std::string& filename, const std::string& etag) const;
  // Files of a snapshot whose blobs are present, as repo-relative names.
  std::vector<std::string> snapshot_files(const std::string& commit) const;

 private:
  std::string cache_dir_, repo_folder_, repo_dir_;
};

}  // namespace detail
}  // namespace sd::io
