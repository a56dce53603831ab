#pragma once
// GET /v1/jobs/{id}/stream: sends a job's event log as Server-Sent Events from the first
// event on, then whatever follows, until the end marker. A quiet stream gets a keep-alive
// comment every interval. A client that goes away ends only its own stream.
#include <chrono>
#include <memory>

namespace httplib {
struct Response;
}

namespace sd::server {

class JobRegistry;
struct Job;

void stream_job_events(httplib::Response& res, JobRegistry& registry, std::shared_ptr<Job> job,
                       std::chrono::milliseconds keepalive_interval);

}  // namespace sd::server
