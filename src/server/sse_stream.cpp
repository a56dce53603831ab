#include "server/sse_stream.h"

#include "server/job_registry.h"
#include "server/sse_format.h"

namespace sd::server {

namespace {

class JobEventStream : public http::BodyStream {
 public:
  JobEventStream(JobRegistry& registry, std::shared_ptr<Job> job, std::chrono::milliseconds keepalive)
      : registry_(registry), job_(std::move(job)), keepalive_(keepalive) {
    registry_.stream_opened(*job_);
  }
  // After the end marker, or after the client left.
  ~JobEventStream() override {
    if (watch_id_) registry_.unwatch(*job_, watch_id_);
    registry_.stream_closed(*job_);
  }

  void start(std::function<void()> wake) override {
    watch_id_ = registry_.watch(*job_, wake);
    wake();  // the events logged before the client came
  }

  Chunk pull() override {
    auto batch = registry_.read_events(*job_, next_, std::chrono::milliseconds(0));
    next_ = batch.next;
    Chunk chunk;
    for (const auto& text : batch.events) chunk.data += *text;
    chunk.last = batch.ended;
    return chunk;
  }

  std::string keepalive_text() const override { return sse_comment("keep-alive"); }
  std::chrono::milliseconds keepalive_interval() const override { return keepalive_; }

 private:
  JobRegistry& registry_;
  std::shared_ptr<Job> job_;
  const std::chrono::milliseconds keepalive_;
  uint64_t watch_id_ = 0;
  size_t next_ = 0;
};

}  // namespace

void stream_job_events(http::Response& res, JobRegistry& registry, std::shared_ptr<Job> job,
                       std::chrono::milliseconds keepalive_interval) {
  res.status = 200;
  res.headers.set("Content-Type", "text/event-stream");
  res.headers.set("Cache-Control", "no-cache");
  res.headers.set("X-Accel-Buffering", "no");  // proxies must not hold events back
  res.stream = std::make_shared<JobEventStream>(registry, std::move(job), keepalive_interval);
}

}  // namespace sd::server
