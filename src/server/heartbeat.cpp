#include "server/heartbeat.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "core/log.h"
#include "server/timestamp.h"
#include "server/version.h"

namespace sd::server {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kFirstRetry{1000};

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t discard_body(char*, size_t size, size_t n, void*) { return size * n; }

std::string heartbeat_url(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v1/worker-heartbeat";
}

}  // namespace

Heartbeat::Heartbeat(HeartbeatOptions opt) : opt_(std::move(opt)), url_(heartbeat_url(opt_.callback_url)) {
  init_curl_once();
  thread_ = std::thread([this] { run(); });
}

Heartbeat::~Heartbeat() { stop(); }

void Heartbeat::set_status(const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  pending_.push_back(status);
  wake_.notify_all();
}

void Heartbeat::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  // One last try for the newest change not sent yet (normally "stopping").
  std::string last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_.empty()) last = pending_.back();
  }
  if (!last.empty()) post(last);
}

nlohmann::json Heartbeat::payload(const std::string& status) const {
  nlohmann::json worker = {{"id", opt_.worker_id},
                           {"model_id", opt_.model_id},
                           {"device", opt_.device},
                           {"port", opt_.port},
                           {"status", status},
                           {"implementation", kImplementation},
                           {"version", worker_version()}};
  if (!opt_.device_name.empty()) {
    worker["device_name"] = opt_.device_name;
    worker["device_memory_mb"] = opt_.device_memory_bytes >> 20;
  }
  return {{"worker", worker}, {"timestamp", rfc3339()}};
}

void Heartbeat::run() {
  std::unique_lock<std::mutex> lock(mu_);
  auto backoff = kFirstRetry;
  std::optional<Clock::time_point> due;  // next periodic beat or retry; none before the first status
  bool retrying = false;
  // A change is sent at once, unless a failed post is waiting for its retry time.
  auto change_ready = [&] { return stopping_ || (!retrying && !pending_.empty()); };
  while (!stopping_) {
    if (!change_ready() && !(due && Clock::now() >= *due)) {
      if (due)
        wake_.wait_until(lock, *due, change_ready);
      else
        wake_.wait(lock, change_ready);
      continue;
    }
    // A retry sends the newest status: those set while it waited are as stale as the one
    // that failed.
    if (retrying && pending_.size() > 1) pending_.erase(pending_.begin(), pending_.end() - 1);
    bool change = !pending_.empty();
    std::string status = change ? pending_.front() : current_;
    lock.unlock();
    bool ok = post(status);
    lock.lock();
    if (ok) {
      if (change) pending_.pop_front();
      current_ = status;
      backoff = kFirstRetry;
      retrying = false;
      due = Clock::now() + opt_.interval;
    } else {
      // After a failure only the newest status is worth sending.
      if (pending_.size() > 1) pending_.erase(pending_.begin(), pending_.end() - 1);
      if (!pending_.empty()) current_ = pending_.back();
      retrying = true;
      due = Clock::now() + backoff;
      backoff = std::min(backoff * 2, std::max(opt_.interval, kFirstRetry));
    }
  }
}

bool Heartbeat::post(const std::string& status) {
  std::string body = payload(status).dump();
  CURL* curl = curl_easy_init();
  if (!curl) return false;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, long(body.size()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(opt_.request_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(std::min<long>(2000, opt_.request_timeout.count())));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
  CURLcode rc = curl_easy_perform(curl);
  long http = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    log_warn("heartbeat \"" + status + "\" to " + url_ + " failed: " + curl_easy_strerror(rc));
    return false;
  }
  if (http < 200 || http >= 300) {
    log_warn("heartbeat \"" + status + "\" to " + url_ + " answered HTTP " + std::to_string(http));
    return false;
  }
  log_debug("heartbeat \"" + status + "\" sent");
  return true;
}

}  // namespace sd::server
