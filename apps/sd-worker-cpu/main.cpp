// sd-worker-cpu: the HTTP image worker on the CPU backend (docs: worker-api.md).
#include "server/worker.h"

int main(int argc, char** argv) { return sd::server::worker_main(argc, argv, "sd-worker-cpu", "cpu"); }
