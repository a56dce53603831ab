#include "pipeline/device_description.h"

#include "backend/backend.h"
#include "pipeline/pipeline.h"

namespace sd::pipeline {

DeviceDescription describe_device(Device d) {
  const backend::Backend& b = backend::backend_for(d);
  return {d.str(), b.name(), b.total_memory()};
}

DType default_dtype(const LoadOptions& opt) { return opt.device.is_cpu() ? default_cpu_dtype(opt) : DType::F16; }

}  // namespace sd::pipeline
