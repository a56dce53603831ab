#pragma once
// Where a tensor's memory lives: the host ("cpu") or one GPU ("cuda:N"), and the memory
// services each kind of device gives the core (a caching allocator and byte copies to and
// from the host). The core knows no device library: a backend registers its
// DeviceMemory, and a device nobody registered is refused with an sd::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sd {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // the GPU's ordinal; always 0 for the CPU

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  // "cpu", "cuda" (= cuda:0) or "cuda:N"; throws sd::Error naming the text otherwise.
  static Device parse(std::string_view text);

  bool is_cpu() const { return type == DeviceType::CPU; }
  std::string str() const;  // "cpu" or "cuda:N", what parse() reads
  bool operator==(const Device&) const = default;
};

// One device's memory. Every call may come from any thread.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // At least `bytes` of device memory, 256-byte aligned (64 on the host); `*capacity`
  // receives the block's real size, which release() gets back.
  virtual void* acquire(size_t bytes, size_t* capacity) = 0;
  virtual void release(void* ptr, size_t capacity) = 0;
  // Byte copies; they return when the bytes have arrived (host memory may be reused).
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_within(void* dst, const void* src, size_t bytes) = 0;
  virtual void set_zero(void* dst, size_t bytes) = 0;
};

// The memory of `d`: the host's BufferPool for the CPU, else what a backend registered for
// d's type. Throws sd::Error ("no CUDA backend in this build", "no device cuda:3").
DeviceMemory& device_memory(Device d);
// Called once by a backend (before its first tensor) with a function mapping a device
// index to its memory, or throwing sd::Error for an index that does not exist.
using DeviceMemoryLookup = DeviceMemory& (*)(int index);
void register_device_memory(DeviceType type, DeviceMemoryLookup lookup);

}  // namespace sd
