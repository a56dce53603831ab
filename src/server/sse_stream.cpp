#include "server/sse_stream.h"

#include <httplib.h>

#include "server/job_registry.h"
#include "server/sse_format.h"

namespace sd::server {

void stream_job_events(httplib::Response& res, JobRegistry& registry, std::shared_ptr<Job> job,
                       std::chrono::milliseconds keepalive_interval) {
  registry.stream_opened(*job);
  auto next = std::make_shared<size_t>(0);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // proxies must not hold events back
  res.set_chunked_content_provider(
      "text/event-stream",
      [&registry, job, next, keepalive_interval](size_t, httplib::DataSink& sink) {
        auto batch = registry.read_events(*job, *next, keepalive_interval);
        *next = batch.next;
        if (batch.events.empty() && !batch.ended) {
          static const std::string keepalive = sse_comment("keep-alive");
          return sink.write(keepalive.data(), keepalive.size());
        }
        for (const auto& text : batch.events)
          if (!sink.write(text->data(), text->size())) return false;  // the client went away
        if (batch.ended) sink.done();
        return true;
      },
      // Runs when the response is destroyed: after the end marker, or after the client left.
      [&registry, job](bool) { registry.stream_closed(*job); });
}

}  // namespace sd::server
