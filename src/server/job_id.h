#pragma once
#include <string>

namespace sd::server {

// "job-<uuid4>" from the system's random source (libuuid), unguessable by other clients.
std::string new_job_id();

}  // namespace sd::server
