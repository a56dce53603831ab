// sd-worker-cpu: the HTTP image worker on the CPU backend (docs: worker-api.md).
#include <cstdio>

#include "server/worker.h"
#include "server/worker_flags.h"

int main(int argc, char** argv) {
  const char* program = "sd-worker-cpu";
  auto flags = sd::server::parse_worker_flags(argc, argv, program, "cpu");
  if (!flags.config) {
    std::FILE* out = flags.exit_code == 0 ? stdout : stderr;
    if (flags.exit_code == 0)
      std::fputs(flags.message.c_str(), out);
    else
      std::fprintf(out, "%s: %s\n", program, flags.message.c_str());
    return flags.exit_code;
  }
  return sd::server::run_worker(*flags.config);
}
