#pragma once
// Numbers as people read them in a message or a PNG's parameters.
#include <cstdint>
#include <cstdio>
#include <string>

namespace sd {

// printf's %g, six significant digits ("7.5", "0.0001", "1e+06").
inline std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A memory size in GiB with one decimal ("13.5 GiB"), as messages about memory give it.
inline std::string gib_text(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(uint64_t(1) << 30));
  return buf;
}

}  // namespace sd
