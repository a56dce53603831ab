#pragma once

namespace sd::server {

// The project version (CMake's PROJECT_VERSION), reported in /info and heartbeats.
const char* worker_version();
// The git commit the binary was built from (12 hex digits), or "" when not built from a
// git checkout (cmake/git_commit.cmake).
const char* worker_git_commit();
// The implementation name hives and queens see in heartbeats.
inline constexpr const char* kImplementation = "sd-worker-rbee";

}  // namespace sd::server
