#pragma once
// A number as people read it in a message or a PNG's parameters: printf's %g, six
// significant digits ("7.5", "0.0001", "1e+06").
#include <cstdio>
#include <string>

namespace sd {

inline std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace sd
