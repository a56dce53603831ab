#pragma once
// Downloads from the Hugging Face Hub into its standard cache (see hub_cache.h), the way
// huggingface_hub does, so models fetched by Python tools are reused and vice versa:
// - file URL {endpoint}/{repo_id}/resolve/{revision}/{filename}: a HEAD request (following
//   only same-site redirects) gives X-Repo-Commit, the ETag (X-Linked-Etag for LFS files)
//   and the size (X-Linked-Size); large files redirect to a CDN, fetched without the token;
// - the listing {endpoint}/api/models/{repo_id}/revision/{revision} gives "sha" and the
//   file names ("siblings");
// - downloads go to blobs/<etag>.incomplete and resume with a Range request, within a call
//   (retries) and across calls;
// - offline (HF_HUB_OFFLINE), or when the server cannot be reached, the cache answers.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/hub_cache.h"

namespace sd::io {

struct HubProgress {
  std::string file;  // repo-relative name
  uint64_t done = 0;
  uint64_t total = 0;  // 0 when the server did not say
};

struct HubOptions {
  std::string endpoint = "https://huggingface.co";
  std::string cache_dir;  // required
  std::string token;      // empty: anonymous
  bool offline = false;
  int max_retries = 5;          // per file, on a dropped connection (each resumes)
  int retry_wait_ms = 1000;
  long connect_timeout_s = 10;
  long stall_timeout_s = 60;    // a transfer under 1 byte/s this long is dropped
  std::function<void(const HubProgress&)> progress;

  // The settings huggingface_hub reads from the environment:
  //   HF_ENDPOINT (default https://huggingface.co, trailing '/' removed);
  //   HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, where HF_HOME defaults
  //     to $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface;
  //   HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the file HF_TOKEN_PATH or $HF_HOME/token;
  //   HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) = 1/ON/YES/TRUE, any case.
  static HubOptions from_env();
};

struct HubRepoInfo {
  std::string commit;
  std::vector<std::string> files;
};

// The listing of a repo at a revision (network only).
HubRepoInfo hub_repo_info(const std::string& repo_id, const std::string& revision, const HubOptions& opt);

// One file, from the cache or downloaded into it; returns its path in the snapshot.
std::string hub_download(const std::string& repo_id, const std::string& filename, const std::string& revision,
                         const HubOptions& opt);

// Chooses, from a repo's file names, those to fetch (throws sd::Error if the repo lacks
// something it needs).
using HubFileSelector = std::function<std::vector<std::string>(const std::vector<std::string>& repo_files)>;

// The files `select` picks, downloaded as needed; returns snapshots/<commit>. Offline, or
// when the server cannot be reached, the cached snapshot of the revision is returned if
// it holds everything `select` picks from it.
std::string hub_snapshot_download(const std::string& repo_id, const std::string& revision,
                                  const HubFileSelector& select, const HubOptions& opt);

// A progress callback drawing one line per file on stderr (for command-line front ends).
std::function<void(const HubProgress&)> hub_stderr_progress();

}  // namespace sd::io
