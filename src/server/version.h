#pragma once

namespace sd::server {

// The project version (CMake's PROJECT_VERSION), reported in /info and heartbeats.
const char* worker_version();
// The implementation name hives and queens see in heartbeats.
inline constexpr const char* kImplementation = "sd-worker-rbee";

}  // namespace sd::server
