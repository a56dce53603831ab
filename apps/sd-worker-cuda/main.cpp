// sd-worker-cuda: the HTTP image worker on an NVIDIA GPU (docs: worker-api.md). The same
// worker as sd-worker-cpu; --device N picks the GPU, and a machine where that GPU cannot be
// used (no driver, no device, a GPU too old for this build) ends with one line and code 1.
#include <cstdio>

#include "server/worker.h"
#include "server/worker_flags.h"

int main(int argc, char** argv) {
  const char* program = "sd-worker-cuda";
  auto flags = sd::server::parse_worker_flags(argc, argv, program, "cuda");
  if (!flags.config) {
    std::FILE* out = flags.exit_code == 0 ? stdout : stderr;
    if (flags.exit_code == 0)
      std::fputs(flags.message.c_str(), out);
    else
      std::fprintf(out, "%s: %s\n", program, flags.message.c_str());
    return flags.exit_code;
  }
  if (const std::string reason = sd::server::open_device(*flags.config); !reason.empty()) {
    std::fprintf(stderr, "%s: %s\n", program, reason.c_str());
    return 1;
  }
  return sd::server::run_worker(*flags.config);
}
