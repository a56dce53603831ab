#include "io/hub.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "io/http_client.h"
#include "io/json_file.h"
#include "io/user_dirs.h"

namespace sd::io {

namespace fs = std::filesystem;
using detail::HttpRequest;
using detail::HttpResponse;
using detail::HubCache;

namespace {

// The Hub did not answer (no connection, a 5xx): the cache may serve instead.
class HubUnreachable : public Error {
 public:
  using Error::Error;
};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool env_true(const char* name) {
  std::string v = env(name);
  for (auto& c : v) c = char(std::toupper(uint8_t(c)));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Printable ASCII only, bounded: server-provided text going into our messages.
std::string printable(const std::string& s, size_t max = 300) {
  std::string out;
  for (char c : s.substr(0, max)) out += (uint8_t(c) >= 0x20 && uint8_t(c) < 0x7F) ? c : '?';
  return out;
}

std::vector<std::string> auth_headers(const HubOptions& opt) {
  if (opt.token.empty()) return {};
  return {"Authorization: Bearer " + opt.token};
}

HttpRequest make_request(const HubOptions& opt, const std::string& method, const std::string& url) {
  HttpRequest req;
  req.method = method;
  req.url = url;
  req.connect_timeout_s = opt.connect_timeout_s;
  req.stall_timeout_s = opt.stall_timeout_s;
  return req;
}

HttpResponse send(const HttpRequest& req) {
  try {
    return detail::http_request(req);
  } catch (const detail::HttpTransportError& e) {
    throw HubUnreachable(e.what());
  }
}

// An HTTP error status as an sd::Error naming `what` (repo, file, revision).
[[noreturn]] void throw_status(const HttpResponse& r, const std::string& what, const HubOptions& opt) {
  std::string msg = what + ": ";
  const std::string code = r.header("x-error-code");
  if (r.status == 401) {
    msg += "401 Unauthorized: the repository is private or gated, or does not exist; ";
    msg += opt.token.empty() ? "set HF_TOKEN to a token that has access" : "the token given (HF_TOKEN) was refused";
  } else if (r.status == 403) {
    msg += "403 Forbidden: the token has no access to this repository (a gated model's conditions must be accepted "
           "on the Hub first)";
  } else if (r.status == 404) {
    if (code == "EntryNotFound") msg += "file not found in the repository (404)";
    else if (code == "RevisionNotFound") msg += "revision not found (404)";
    else if (code == "RepoNotFound") msg += "repository not found (404)";
    else msg += "not found (404)";
  } else {
    msg += "HTTP " + std::to_string(r.status);
  }
  if (const std::string m = r.header("x-error-message"); !m.empty()) msg += " [" + printable(m) + "]";
  if (r.status >= 500) throw HubUnreachable(msg);
  throw Error(msg);
}

std::optional<uint64_t> parse_size(const std::string& s) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(s);
}

std::string normalize_etag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

struct FileMetadata {
  std::string commit, etag, location;
  std::optional<uint64_t> size;
};

// HEAD on the resolve URL, following same-site redirects only (a renamed repo) and
// stopping at a redirect elsewhere (the CDN), whose headers describe the file.
FileMetadata fetch_metadata(const std::string& repo_id, const std::string& filename, const std::string& revision,
                            const std::string& what, const HubOptions& opt) {
  std::string url = opt.endpoint + "/" + repo_id + "/resolve/" + detail::url_quote(revision, false) + "/" +
                    detail::url_quote(filename, true);
  HttpResponse r;
  for (int hop = 0;; ++hop) {
    HttpRequest req = make_request(opt, "HEAD", url);
    req.headers = auth_headers(opt);
    req.headers.push_back("Accept-Encoding: identity");
    r = send(req);
    const std::string loc = r.header("location");
    const bool relative = !loc.empty() && loc[0] == '/' && (loc.size() < 2 || loc[1] != '/');
    if (r.status >= 300 && r.status < 400 && relative && hop < 10) {
      url = detail::url_origin(url) + loc;
      continue;
    }
    break;
  }
  if (r.status < 200 || r.status >= 400) throw_status(r, what, opt);
  FileMetadata meta;
  meta.commit = r.header("x-repo-commit");
  if (meta.commit.empty())
    throw Error(what + ": the server sent no X-Repo-Commit header; is " + opt.endpoint + " a Hugging Face Hub?");
  detail::check_commit(meta.commit, what);
  meta.etag = normalize_etag(!r.header("x-linked-etag").empty() ? r.header("x-linked-etag") : r.header("etag"));
  if (meta.etag.empty()) throw Error(what + ": the server sent no ETag, so the file cannot be cached");
  detail::check_etag(meta.etag, what);
  meta.size = parse_size(!r.header("x-linked-size").empty() ? r.header("x-linked-size") : r.header("content-length"));
  if (r.status >= 300) {
    meta.location = r.header("location");
    if (meta.location.find("://") == std::string::npos)
      throw Error(what + ": redirect without a usable Location (" + printable(meta.location) + ")");
  } else {
    meta.location = url;
  }
  return meta;
}

class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fs::create_directories(fs::path(path).parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path + ": cannot create lock file: " + std::strerror(errno));
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw Error(path + ": cannot lock: " + std::strerror(errno));
      }
    }
  }
  ~FileLock() {
    flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// The .incomplete file a download appends to.
class PartFile {
 public:
  explicit PartFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  }
  ~PartFile() { ::close(fd_); }
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;
  bool append(const char* p, size_t n) {
    while (n) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        error_ = std::strerror(errno);
        return false;
      }
      p += w;
      n -= size_t(w);
    }
    return true;
  }
  bool restart() {
    if (ftruncate(fd_, 0) == 0) return true;
    error_ = std::strerror(errno);
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  std::string path_, error_;
  int fd_ = -1;
};

uint64_t size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : uint64_t(n);
}

std::string size_text(std::optional<uint64_t> n) { return n ? std::to_string(*n) : std::string("?"); }

// Fetches the blob of `meta` into the cache: into <etag>.incomplete, resuming what is
// there with a Range request, retrying dropped connections, then renamed into place.
void download_blob(const HubCache& cache, const FileMetadata& meta, const std::string& filename,
                   const std::string& what, const HubOptions& opt) {
  FileLock lock(cache.lock_path(meta.etag));
  const std::string blob = cache.blob_path(meta.etag);
  if (fs::exists(blob)) return;  // another process fetched it meanwhile
  const std::string part = cache.incomplete_path(meta.etag);
  fs::create_directories(fs::path(part).parent_path());
  // The token goes to the Hub only, never to the CDN a large file redirects to.
  const bool to_hub = detail::url_origin(meta.location) == detail::url_origin(opt.endpoint);

  for (int attempt = 0;; ++attempt) {
    uint64_t have = size_or_zero(part);
    if (meta.size && have > *meta.size) {
      fs::resize_file(part, 0);
      have = 0;
    }
    if (meta.size && have == *meta.size) break;

    std::string failure;  // why this attempt did not complete, if it did not
    {
      PartFile out(part);
      HttpRequest req = make_request(opt, "GET", meta.location);
      req.follow_redirects = true;
      if (to_hub) req.headers = auth_headers(opt);
      if (have > 0) req.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
      bool started = false;
      req.on_body = [&](long status, const char* data, size_t n) {
        if (status != 200 && status != 206) return true;  // an error page: the status says it
        if (!started) {
          started = true;
          if (status == 200 && have > 0) {  // the server ignored the Range: start over
            have = 0;
            if (!out.restart()) return false;
          }
        }
        return out.append(data, n);
      };
      req.on_progress = [&](uint64_t now, uint64_t total) {
        if (opt.progress) opt.progress({filename, have + now, meta.size.value_or(total ? have + total : 0)});
      };
      HttpResponse r;
      try {
        r = detail::http_request(req);
      } catch (const detail::HttpTransportError& e) {
        if (!out.error().empty()) throw Error(what + ": cannot write " + part + ": " + out.error());
        failure = e.what();
      }
      if (failure.empty()) {
        if (r.status == 416) {
          fs::resize_file(part, 0);  // our partial file does not fit the server's: start over
          failure = "the server refused to resume (416)";
        } else if (r.status != 200 && r.status != 206) {
          throw_status(r, what, opt);
        } else if (meta.size && size_or_zero(part) < *meta.size) {
          failure = "the connection ended early";
        }
      }
    }
    if (failure.empty()) break;
    if (attempt >= opt.max_retries)
      throw Error(what + ": download interrupted after " + std::to_string(size_or_zero(part)) + " of " +
                  size_text(meta.size) + " bytes (" + failure + "); run again to resume from " + part);
    log_warn(what + ": " + failure + "; resuming (attempt " + std::to_string(attempt + 2) +
             " of " + std::to_string(opt.max_retries + 1) + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(opt.retry_wait_ms));
  }

  const uint64_t got = size_or_zero(part);
  if (meta.size && got != *meta.size) {
    fs::remove(part);
    throw Error(what + ": downloaded " + std::to_string(got) + " bytes, the server announced " +
                std::to_string(*meta.size));
  }
  fs::rename(part, blob);
}

std::string describe(const std::string& repo_id, const std::string& filename, const std::string& revision) {
  return "Hugging Face Hub " + repo_id + ": " + filename + " (revision " + revision + ")";
}

// The snapshot already in the cache, when the Hub is not to be (or cannot be) asked.
std::string cached_snapshot(const HubCache& cache, const std::string& repo_id, const std::string& revision,
                            const HubFileSelector& select, const std::string& why) {
  const std::string what = "Hugging Face Hub " + repo_id + " (revision " + revision + ")";
  const auto commit = cache.resolve_commit(revision);
  if (!commit || !fs::is_directory(cache.snapshot_dir(*commit)))
    throw Error(what + ": not in the cache " + cache.repo_dir() + ", and " + why);
  const std::string dir = cache.snapshot_dir(*commit);
  std::vector<std::string> files;
  try {
    files = select(cache.snapshot_files(*commit));
  } catch (const Error& e) {
    throw Error(what + ": the cached snapshot " + dir + " is incomplete (" + e.what() + "), and " + why);
  }
  for (auto& f : files)
    if (!cache.cached_file(*commit, f))
      throw Error(what + ": the cached snapshot " + dir + " lacks " + f + ", and " + why);
  return dir;
}

}  // namespace

HubOptions HubOptions::from_env() {
  HubOptions o;
  if (std::string e = env("HF_ENDPOINT"); !e.empty()) {
    while (!e.empty() && e.back() == '/') e.pop_back();
    o.endpoint = e;
  }
  std::string hf_home = env("HF_HOME");
  if (hf_home.empty()) hf_home = user_cache_dir() + "/huggingface";
  hf_home = expand_user(hf_home);
  o.cache_dir = env("HF_HUB_CACHE");
  if (o.cache_dir.empty()) o.cache_dir = env("HUGGINGFACE_HUB_CACHE");
  if (o.cache_dir.empty()) o.cache_dir = hf_home + "/hub";
  o.cache_dir = expand_user(o.cache_dir);
  o.token = trim(env("HF_TOKEN"));
  if (o.token.empty()) o.token = trim(env("HUGGING_FACE_HUB_TOKEN"));
  if (o.token.empty()) {
    std::string path = env("HF_TOKEN_PATH");
    std::ifstream in(path.empty() ? hf_home + "/token" : expand_user(path));
    std::string line;
    if (in && std::getline(in, line)) o.token = trim(line);
  }
  o.offline = env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");
  return o;
}

HubRepoInfo hub_repo_info(const std::string& repo_id, const std::string& revision, const HubOptions& opt) {
  detail::check_repo_id(repo_id);
  detail::check_revision(revision);
  const std::string what = "Hugging Face Hub " + repo_id + " (revision " + revision + ")";
  if (opt.offline) throw Error(what + ": cannot list the repository in offline mode (HF_HUB_OFFLINE)");
  HttpRequest req =
      make_request(opt, "GET", opt.endpoint + "/api/models/" + repo_id + "/revision/" + detail::url_quote(revision, false));
  req.headers = auth_headers(opt);
  req.follow_redirects = true;
  const HttpResponse r = send(req);
  if (r.status != 200) throw_status(r, what, opt);
  const Json j = parse_json_text(r.body, what + ": repository listing");
  HubRepoInfo info;
  if (!j.is_object() || !j.contains("sha") || !j["sha"].is_string())
    throw Error(what + ": the repository listing has no \"sha\"");
  info.commit = j["sha"].get<std::string>();
  detail::check_commit(info.commit, what);
  if (j.contains("siblings")) {
    if (!j["siblings"].is_array()) throw Error(what + ": \"siblings\" in the listing is not an array");
    for (auto& s : j["siblings"]) {
      if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string())
        throw Error(what + ": a \"siblings\" entry has no \"rfilename\"");
      info.files.push_back(s["rfilename"].get<std::string>());
      detail::check_repo_file(info.files.back(), what);
    }
  }
  return info;
}

std::string hub_download(const std::string& repo_id, const std::string& filename, const std::string& revision,
                         const HubOptions& opt) {
  detail::check_revision(revision);
  const HubCache cache(opt.cache_dir, repo_id);
  const std::string what = describe(repo_id, filename, revision);
  detail::check_repo_file(filename, what);
  if (is_commit_hash(revision))
    if (auto p = cache.cached_file(revision, filename)) return *p;
  auto from_cache = [&]() -> std::optional<std::string> {
    if (auto commit = cache.resolve_commit(revision)) return cache.cached_file(*commit, filename);
    return std::nullopt;
  };
  if (opt.offline) {
    if (auto p = from_cache()) return *p;
    throw Error(what + ": not in the cache " + cache.repo_dir() + ", and offline mode (HF_HUB_OFFLINE) is on");
  }
  FileMetadata meta;
  try {
    meta = fetch_metadata(repo_id, filename, revision, what, opt);
  } catch (const HubUnreachable& e) {
    if (auto p = from_cache()) {
      log_warn(what + ": the Hub cannot be reached (" + e.what() + "); using the cached " + *p);
      return *p;
    }
    throw Error(what + ": the Hub cannot be reached (" + e.what() + ") and the file is not in the cache " +
                cache.repo_dir());
  }
  if (!cache.cached_file(meta.commit, filename)) {
    if (!fs::exists(cache.blob_path(meta.etag))) download_blob(cache, meta, filename, what, opt);
    cache.link(meta.commit, filename, meta.etag);
  }
  if (revision != meta.commit) cache.write_ref(revision, meta.commit);
  return cache.pointer_path(meta.commit, filename);
}

std::string hub_snapshot_download(const std::string& repo_id, const std::string& revision,
                                  const HubFileSelector& select, const HubOptions& opt) {
  detail::check_revision(revision);
  const HubCache cache(opt.cache_dir, repo_id);
  if (opt.offline) return cached_snapshot(cache, repo_id, revision, select, "offline mode (HF_HUB_OFFLINE) is on");
  HubRepoInfo info;
  try {
    info = hub_repo_info(repo_id, revision, opt);
  } catch (const HubUnreachable& e) {
    const std::string dir =
        cached_snapshot(cache, repo_id, revision, select, std::string("the Hub cannot be reached: ") + e.what());
    log_warn("Hugging Face Hub " + repo_id + ": the Hub cannot be reached (" + e.what() + "); using the cached " +
             dir);
    return dir;
  }
  for (const std::string& f : select(info.files))
    if (!cache.cached_file(info.commit, f)) hub_download(repo_id, f, info.commit, opt);
  if (revision != info.commit) cache.write_ref(revision, info.commit);
  return cache.snapshot_dir(info.commit);
}

std::function<void(const HubProgress&)> hub_stderr_progress() {
  struct State {
    std::string file;
    std::chrono::steady_clock::time_point last{};
    bool finished = false;
    bool tty = isatty(STDERR_FILENO) != 0;
  };
  auto st = std::make_shared<State>();
  return [st](const HubProgress& p) {
    if (p.file != st->file) *st = State{p.file, {}, false, st->tty};
    if (st->finished) return;
    const auto now = std::chrono::steady_clock::now();
    const bool done = p.total && p.done >= p.total;
    if (!done && now - st->last < std::chrono::milliseconds(200)) return;
    st->last = now;
    st->finished = done;
    const double mb = 1.0 / (1 << 20);
    if (st->tty) {
      std::fprintf(stderr, "\r%s  %5.1f%%  %.1f/%.1f MB%s", p.file.c_str(),
                   p.total ? 100.0 * double(p.done) / double(p.total) : 0.0, double(p.done) * mb,
                   double(p.total) * mb, done ? "\n" : "");
    } else if (done) {
      std::fprintf(stderr, "downloaded %s (%.1f MB)\n", p.file.c_str(), double(p.total) * mb);
    }
  };
}

}  // namespace sd::io
