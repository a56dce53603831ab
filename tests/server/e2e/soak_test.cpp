// A bounded soak of the real sd-worker-cpu on loopback: a few hundred small jobs from dozens
// of clients, with streams read to the end, streams dropped halfway, cancels and polling
// mixed in. Every accepted job must end with exactly one end marker, and the worker's
// memory, threads and file descriptors must come back to where they were.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "server/e2e/process_stats.h"
#include "server/e2e/worker_process.h"
#include "server/fd_limit.h"
#include "server/loopback.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kClients = 24;
constexpr int kJobsPerClient = 9;
// Memory the worker may keep after the soak beyond its warmed-up baseline (allocator slack).
constexpr size_t kRssSlackKb = 48 * 1024;

json small_job(int n) {
  // Two steps without CFG: the soak is about the worker's plumbing, not its arithmetic.
  return {{"operation", "image_generation"}, {"prompt", "soak " + std::to_string(n)}, {"steps", 2},
          {"guidance_scale", 0}, {"width", 64}, {"height", 64}, {"seed", n}};
}

bool is_end_marker(const SseMessage& m) {
  return m.event.empty() && !m.comment &&
         (m.data == "[DONE]" || m.data == "[CANCELLED]" || m.data.rfind("[ERROR]", 0) == 0);
}

// Submits, retrying while the queue is full; empty when never accepted.
std::string submit_with_retry(httplib::Client& c, const json& body) {
  for (int attempt = 0; attempt < 2000; ++attempt) {
    auto r = c.Post("/v1/jobs", body.dump(), "application/json");
    if (r && r->status == 200) return json::parse(r->body)["job_id"];
    if (!r || r->status != 429) return "";
    std::this_thread::sleep_for(20ms);
  }
  return "";
}

TEST(Soak, EveryJobEndsOnceAndTheWorkerReturnsToItsBaseline) {
  SD_SKIP_WITHOUT_DATA("clip");
  sd::server::raise_open_file_limit();
  auto flags = tiny_model_flags();
  flags.insert(flags.end(), {"--job-retention", "1", "--queue-capacity", "64", "--keepalive-interval-ms", "200",
                             "--preview-every", "1"});
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  {
    auto c = worker.client();
    for (int i = 0; i < 4; ++i) read_whole_sse(c, "/v1/jobs/" + submit_with_retry(c, small_job(i)) + "/stream");
  }
  std::this_thread::sleep_for(1500ms);
  worker.client().Get("/v1/jobs/job-none");  // purges the warm-up jobs
  auto baseline = process_stats(worker.pid());

  std::atomic<int> accepted{0}, refused{0}, streams{0}, dropped{0}, cancels{0}, bad{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(failures_mu);
    failures.push_back(what);
    ++bad;
  };
  auto run_client = [&](int client) {
    auto c = worker.client();
    for (int i = 0; i < kJobsPerClient; ++i) {
      int n = client * kJobsPerClient + i;
      std::string id = submit_with_retry(c, small_job(n));
      if (id.empty()) {
        ++refused;
        continue;
      }
      ++accepted;
      std::string path = "/v1/jobs/" + id + "/stream";
      switch (n % 4) {
        case 1: {  // a stream dropped at its first event; another client reads it later
          auto quitter = worker.client();
          ++streams;
          ++dropped;
          read_sse(quitter, path, [](const SseMessage& m) { return m.comment; });
          break;
        }
        case 2: {  // cancelled at once: queued, running or already done
          ++cancels;
          auto r = c.Delete("/v1/jobs/" + id);
          if (!r || (r->status != 200 && r->status != 409))
            fail(id + ": cancel answered " + (r ? std::to_string(r->status) : "nothing"));
          break;
        }
        case 3: {  // polled until finished
          for (int poll = 0; poll < 3000; ++poll) {
            auto r = c.Get("/v1/jobs/" + id);
            if (!r || r->status != 200) break;
            std::string status = json::parse(r->body)["status"];
            if (status != "queued" && status != "running") break;
            std::this_thread::sleep_for(10ms);
          }
          break;
        }
        default: break;
      }
      ++streams;
      auto msgs = read_whole_sse(c, path);
      int markers = 0;
      for (const auto& m : msgs) markers += is_end_marker(m) ? 1 : 0;
      if (markers != 1 || msgs.empty() || !is_end_marker(msgs.back()))
        fail(id + ": " + std::to_string(markers) + " end markers in " + std::to_string(msgs.size()) + " messages");
    }
  };
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) clients.emplace_back(run_client, i);
  for (auto& t : clients) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // Finished jobs are dropped after the retention time; idle sockets are closed by then.
  std::this_thread::sleep_for(1500ms);
  worker.client().Get("/v1/jobs/job-none");
  auto after = process_stats(worker.pid());
  for (int i = 0; i < 50 && (after.fds > baseline.fds || after.threads > baseline.threads); ++i) {
    std::this_thread::sleep_for(100ms);
    after = process_stats(worker.pid());
  }
  std::printf("[ figures ] soak: %d jobs accepted (%d never), %d streams (%d dropped early), %d cancels, %.1f s\n"
              "[ figures ] worker before: %s\n[ figures ] worker after:  %s\n",
              accepted.load(), refused.load(), streams.load(), dropped.load(), cancels.load(), seconds,
              describe(baseline).c_str(), describe(after).c_str());
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(refused, 0);
  EXPECT_EQ(accepted, kClients * kJobsPerClient);
  EXPECT_EQ(after.threads, baseline.threads);
  // At most the baseline: a keep-alive socket of the readiness check may be open at the
  // baseline and closed by its idle timeout since.
  EXPECT_LE(after.fds, baseline.fds);
  EXPECT_LE(after.rss_kb, baseline.rss_kb + kRssSlackKb);
}

}  // namespace
}  // namespace sd::test
