#include "io/user_dirs.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace sd::io {

std::string home_dir() {
  if (const char* h = std::getenv("HOME"); h && *h) return h;
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_dir;
  return "/";
}

std::string expand_user(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) return home_dir() + path.substr(1);
  return path;
}

std::string user_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return expand_user(x);
  return home_dir() + "/.cache";
}

}  // namespace sd::io
