// The backends of this build, created on first use and kept for the process.
#include <map>
#include <mutex>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#ifdef SD_WITH_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace sd::backend {

namespace {

Backend& cpu_backend() {
  static const std::unique_ptr<Backend> cpu = cpu::make_cpu_backend();
  return *cpu;
}

Backend& gpu_backend(Device d) {
  static std::mutex mu;
  // Never destroyed: a GPU context torn down after main returns (while the driver unloads,
  // or before static tensors release their memory into it) crashes instead of exiting.
  static auto* gpus = new std::map<int, std::unique_ptr<Backend>>;
  std::lock_guard<std::mutex> lock(mu);
  auto it = gpus->find(d.index);
  if (it != gpus->end()) return *it->second;
#ifdef SD_WITH_CUDA
  std::unique_ptr<Backend> gpu;
  try {
    gpu = make_cuda_backend(d.index);
  } catch (const Error& e) {
    throw Error("device " + d.str() + ": " + e.what());
  }
  return *gpus->emplace(d.index, std::move(gpu)).first->second;
#else
  throw Error("device " + d.str() + ": this build has no CUDA backend (configure with -DSD_CUDA=ON)");
#endif
}

}  // namespace

Backend& backend_for(Device d) {
  if (d.is_cpu()) return cpu_backend();
  return gpu_backend(d);
}

std::vector<Device> available_devices() {
  std::vector<Device> out{Device::cpu()};
#ifdef SD_WITH_CUDA
  for (int i = 0, n = cuda_device_count(); i < n; ++i) out.push_back(Device::cuda(i));
#endif
  return out;
}

}  // namespace sd::backend
