#include "server/version.h"

namespace sd::server {

const char* worker_version() { return SD_WORKER_VERSION; }

}  // namespace sd::server
