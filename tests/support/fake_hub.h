#pragma once
// A Hugging Face Hub on 127.0.0.1 (cpp-httplib), answering the way huggingface.co does:
// - GET /api/models/{repo}/revision/{rev}: {"sha", "siblings": [{"rfilename"}]};
// - HEAD/GET /{repo}/resolve/{rev}/{file}: X-Repo-Commit and, for a small (git) file, its
//   ETag and content; for a large (LFS) file a 302 to the CDN with X-Linked-Etag and
//   X-Linked-Size;
// - GET /cdn/{etag} on "localhost" (a different origin): the LFS content, with Range;
// - 401 (X-Error-Code RepoNotFound) for a private repo without the right Bearer token,
//   404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound.
// It records every request, and can cut a CDN transfer mid-body.
#include <httplib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sd::test {

struct FakeFile {
  std::string content;
  bool lfs = false;
  std::string etag;  // served as the (linked) ETag; a fresh hex id when empty
};

struct FakeRepo {
  std::string commit;
  std::map<std::string, FakeFile> files;
  bool private_repo = false;
  std::vector<std::string> extra_listing;  // names listed but not served
};

struct SeenRequest {
  std::string method, path, range, authorization;
};

class FakeHub {
 public:
  static constexpr const char* kToken = "hf_fake_test_token";

  explicit FakeHub(std::map<std::string, FakeRepo> repos) : repos_(std::move(repos)) {
    int n = 0;
    for (auto& [id, repo] : repos_)
      for (auto& [name, f] : repo.files)
        if (f.etag.empty()) f.etag = hex_id(++n, f.lfs ? 64 : 40);
    server_.Get(R"(/api/models/([^/]+/[^/]+)/revision/(.+))", [this](const auto& req, auto& res) { api(req, res); });
    server_.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [this](const auto& req, auto& res) { resolve(req, res); });
    server_.Get(R"(/cdn/([0-9a-f]+))", [this](const auto& req, auto& res) { cdn(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeHub() { stop(); }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void stop() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  const FakeFile& file(const std::string& repo, const std::string& name) const { return repos_.at(repo).files.at(name); }
  // The next `n` CDN transfers of `etag` send half of what they owe, then hang up.
  void cut_transfers(const std::string& etag, int n) {
    std::lock_guard<std::mutex> lock(mutex_);
    cuts_[etag] = n;
  }
  std::vector<SeenRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }
  // Every route answers 503 (the Hub having a bad day) while set.
  void set_unavailable(bool on) { unavailable_ = on; }
  void clear_requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.clear();
  }

 private:
  static std::string hex_id(int n, size_t len) {
    std::string s = std::to_string(n);
    return std::string(len - s.size(), 'a') + s;  // digits and 'a': valid hex
  }

  // Records the request; false (with a 503 set) while unavailable.
  bool record(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back({req.method, req.path, req.get_header_value("Range"), req.get_header_value("Authorization")});
    if (unavailable_) res.status = 503;
    return !unavailable_;
  }

  // The repo, or an error response already set.
  const FakeRepo* find_repo(const std::string& id, const httplib::Request& req, httplib::Response& res) {
    auto it = repos_.find(id);
    const bool authorized = req.get_header_value("Authorization") == std::string("Bearer ") + kToken;
    if (it != repos_.end() && it->second.private_repo && !authorized) {
      res.status = 401;
      res.set_header("X-Error-Code", "RepoNotFound");
      res.set_header("X-Error-Message", "Invalid credentials in Authorization header");
      return nullptr;
    }
    if (it == repos_.end()) {
      res.status = 404;
      res.set_header("X-Error-Code", "RepoNotFound");
      return nullptr;
    }
    return &it->second;
  }

  // The request recorded, then the repo and revision of a route whose first two matches
  // are {repo} and {revision}; null with the error response set when either is unknown.
  const FakeRepo* find_revision(const httplib::Request& req, httplib::Response& res) {
    if (!record(req, res)) return nullptr;
    const FakeRepo* repo = find_repo(req.matches[1], req, res);
    if (!repo) return nullptr;
    const std::string rev = req.matches[2];
    if (rev != "main" && rev != repo->commit) {
      res.status = 404;
      res.set_header("X-Error-Code", "RevisionNotFound");
      return nullptr;
    }
    return repo;
  }

  void api(const httplib::Request& req, httplib::Response& res) {
    const FakeRepo* repo = find_revision(req, res);
    if (!repo) return;
    std::string json = "{\"id\":\"" + std::string(req.matches[1]) + "\",\"sha\":\"" + repo->commit + "\",\"siblings\":[";
    bool first = true;
    auto add = [&](const std::string& name) {
      json += std::string(first ? "" : ",") + "{\"rfilename\":\"" + name + "\"}";
      first = false;
    };
    for (auto& [name, f] : repo->files) add(name);
    for (auto& name : repo->extra_listing) add(name);
    res.set_content(json + "]}", "application/json");
  }

  void resolve(const httplib::Request& req, httplib::Response& res) {
    const FakeRepo* repo = find_revision(req, res);
    if (!repo) return;
    auto it = repo->files.find(req.matches[3]);
    res.set_header("X-Repo-Commit", repo->commit);
    if (it == repo->files.end()) {
      res.status = 404;
      res.set_header("X-Error-Code", "EntryNotFound");
      res.set_header("X-Error-Message", "Entry not found");
      return;
    }
    const FakeFile& f = it->second;
    if (f.lfs) {
      res.status = 302;
      res.set_header("Location", "http://localhost:" + std::to_string(port_) + "/cdn/" + f.etag);
      res.set_header("X-Linked-Etag", "\"" + f.etag + "\"");
      res.set_header("X-Linked-Size", std::to_string(f.content.size()));
      res.set_header("ETag", "\"0123456789abcdef0123456789abcdef01234567\"");  // of the LFS pointer
      return;
    }
    res.set_header("ETag", "\"" + f.etag + "\"");
    res.set_content(f.content, "application/octet-stream");
  }

  void cdn(const httplib::Request& req, httplib::Response& res) {
    if (!record(req, res)) return;
    const std::string etag = req.matches[1];
    const FakeFile* found = nullptr;
    for (auto& [id, repo] : repos_)
      for (auto& [name, f] : repo.files)
        if (f.lfs && f.etag == etag) found = &f;
    if (!found) {
      res.status = 404;
      return;
    }
    bool cut = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cuts_[etag] > 0) {
        --cuts_[etag];
        cut = true;
      }
    }
    // httplib applies the Range: the provider is asked for the requested slice.
    const std::string* content = &found->content;
    res.set_content_provider(content->size(), "application/octet-stream",
                             [content, cut](size_t offset, size_t length, httplib::DataSink& sink) {
                               if (cut) {
                                 sink.write(content->data() + offset, length / 2);
                                 return false;  // hang up mid-body
                               }
                               sink.write(content->data() + offset, length);
                               return true;
                             });
  }

  std::map<std::string, FakeRepo> repos_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::vector<SeenRequest> seen_;
  std::map<std::string, int> cuts_;
  std::atomic<bool> unavailable_{false};
};

}  // namespace sd::test
