#pragma once
// Every client socket is a file descriptor; the usual soft limit (1024) would cap the worker
// at about a thousand connections although the hard limit allows far more.
#include <cstddef>

namespace sd::server {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
size_t raise_open_file_limit();

}  // namespace sd::server
