// sd-worker-cuda: the HTTP image worker on an NVIDIA GPU (docs: worker-api.md). The same
// worker as sd-worker-cpu; --device N picks the GPU, and a machine where that GPU cannot be
// used (no driver, no device, a GPU too old for this build) ends with one line and code 1.
#include "server/worker.h"

int main(int argc, char** argv) { return sd::server::worker_main(argc, argv, "sd-worker-cuda", "cuda"); }
