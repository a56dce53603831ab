#pragma once
// GET /v1/jobs/{id}/stream: a job's event log as Server-Sent Events from the first event
// on, then whatever follows, until the end marker. A quiet stream gets a keep-alive comment
// every interval. A client that goes away ends only its own stream.
#include <chrono>
#include <memory>

#include "server/http/message.h"

namespace sd::server {

class JobRegistry;
struct Job;

// Makes `res` the job's event stream; the registry counts it open until the response is gone.
void stream_job_events(http::Response& res, JobRegistry& registry, std::shared_ptr<Job> job,
                       std::chrono::milliseconds keepalive_interval);

}  // namespace sd::server
