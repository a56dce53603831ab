#pragma once
#include <chrono>
#include <string>

namespace sd::server {

// UTC time as RFC 3339 with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
std::string rfc3339(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

}  // namespace sd::server
