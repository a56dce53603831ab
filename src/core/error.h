#pragma once
// One exception type for every failure the engine reports to a user: a bad file, a bad
// argument, a shape that does not fit. The message is the whole explanation.
#include <stdexcept>
#include <string>

namespace sd {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown when a running computation is asked to stop (cancellation between steps).
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

}  // namespace sd

// Internal invariant check that stays on in release builds: shape bugs must not run on.
#define SD_CHECK(cond, msg)                                                          \
  do {                                                                               \
    if (!(cond)) throw ::sd::Error(std::string(__func__) + ": " + (msg));            \
  } while (0)
