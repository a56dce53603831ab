#include "core/device.h"

#include <charconv>
#include <cstring>
#include <mutex>

#include "core/buffer_pool.h"
#include "core/error.h"

namespace sd {

Device Device::parse(std::string_view text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  constexpr std::string_view kCuda = "cuda:";
  if (text.substr(0, kCuda.size()) == kCuda) {
    const std::string_view digits = text.substr(kCuda.size());
    int index = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() && index >= 0)
      return cuda(index);
  }
  throw Error("unknown device \"" + std::string(text) + "\" (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const {
  return is_cpu() ? "cpu" : "cuda:" + std::to_string(index);
}

namespace {

// The host: the BufferPool, and plain memcpy.
class HostMemory final : public DeviceMemory {
 public:
  void* acquire(size_t bytes, size_t* capacity) override {
    return BufferPool::instance().acquire(bytes, capacity);
  }
  void release(void* ptr, size_t capacity) override { BufferPool::instance().release(ptr, capacity); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_within(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void set_zero(void* dst, size_t bytes) override { std::memset(dst, 0, bytes); }
};

std::mutex g_lookup_mu;
DeviceMemoryLookup g_cuda_lookup = nullptr;

}  // namespace

DeviceMemory& device_memory(Device d) {
  if (d.is_cpu()) {
    static HostMemory host;
    return host;
  }
  DeviceMemoryLookup lookup;
  {
    std::lock_guard<std::mutex> lock(g_lookup_mu);
    lookup = g_cuda_lookup;
  }
  if (!lookup)
    throw Error("no memory for device " + d.str() +
                ": this build has no CUDA backend, or the device was not started");
  return lookup(d.index);
}

void register_device_memory(DeviceType type, DeviceMemoryLookup lookup) {
  SD_CHECK(type == DeviceType::CUDA, "the host's memory is built in");
  std::lock_guard<std::mutex> lock(g_lookup_mu);
  g_cuda_lookup = lookup;
}

}  // namespace sd
