// The backends of this build, created on first use and kept for the process.
#include <map>
#include <mutex>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#ifdef SD_WITH_CUDA
#include <dlfcn.h>

#include <filesystem>
#endif

namespace sd::backend {

namespace {

#ifdef SD_WITH_CUDA
// The CUDA backend is a shared library in the program's folder, loaded on first use
// (cmake/cuda.cmake says why); its entry points are src/backend/cuda/module_entry.cpp.
struct CudaModule {
  int (*device_count)() = nullptr;
  Backend* (*make_backend)(int index) = nullptr;
  std::string error;  // why it did not load, when it did not
};

CudaModule load_cuda_module() {
  CudaModule m;
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / SD_CUDA_MODULE;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    m.error = "cannot load the CUDA backend: " + std::string(dlerror());
    return m;
  }
  m.device_count = reinterpret_cast<int (*)()>(dlsym(handle, "sd_cuda_device_count"));
  m.make_backend = reinterpret_cast<Backend* (*)(int)>(dlsym(handle, "sd_make_cuda_backend"));
  if (m.device_count == nullptr || m.make_backend == nullptr)
    m.error = "cannot load the CUDA backend: " + path.string() + " lacks its entry points";
  return m;
}

const CudaModule& cuda_module() {
  static const CudaModule m = load_cuda_module();
  return m;
}
#endif

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
  const CudaModule& cuda = cuda_module();
  if (!cuda.error.empty()) throw Error("device " + d.str() + ": " + cuda.error);
  std::unique_ptr<Backend> gpu;
  try {
    gpu.reset(cuda.make_backend(d.index));
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
  const CudaModule& cuda = cuda_module();
  const int n = cuda.error.empty() ? cuda.device_count() : 0;
  for (int i = 0; i < n; ++i) out.push_back(Device::cuda(i));
#endif
  return out;
}

}  // namespace sd::backend
