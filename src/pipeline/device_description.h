#pragma once
// What a front end says about the device a model runs on (/info, heartbeats, sd-bench):
// its name and memory, read from the device's backend, which this starts.
#include <cstdint>
#include <string>

#include "core/device.h"
#include "core/dtype.h"
#include "loaders/load_options.h"

namespace sd::pipeline {

struct DeviceDescription {
  std::string device;          // "cpu", "cuda:0"
  std::string name;            // "NVIDIA H200", "cpu (avx512_bf16)"
  uint64_t total_bytes = 0;    // device memory; 0 for the host
};

// Throws sd::Error with one line when the device cannot be used (no CUDA backend in this
// build, no driver, no such GPU).
DeviceDescription describe_device(Device d);

// The "auto" compute dtype on opt.device: default_cpu_dtype(opt) on the host, f16 on a GPU.
DType default_dtype(const LoadOptions& opt);

}  // namespace sd::pipeline
