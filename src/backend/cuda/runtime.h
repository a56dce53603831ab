#pragma once
// The GPUs the process can use: how many, what they are, and picking one. Every failure
// (no driver, no device, an index out of range, a GPU too old for this build) is one
// sd::Error whose message a front end can print as its single line.
#include <cstddef>
#include <string>

namespace sd::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;          // e.g. "NVIDIA H200"
  size_t total_bytes = 0;    // device memory
  size_t free_bytes = 0;     // free when queried
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
};

// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count();

// Describes device `index` and makes it current for this thread; throws sd::Error with the
// reason when it cannot be used.
DeviceInfo open_device(int index);

// Bytes free on device `index` now (cudaMemGetInfo); throws sd::Error when it cannot tell.
size_t free_memory(int index);

// A one-line reason why no GPU can be used ("" when device 0 can), for tests and front
// ends that must skip or exit with one line.
std::string unavailable_reason();

}  // namespace sd::cuda
