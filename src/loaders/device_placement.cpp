#include "loaders/device_placement.h"

#include "backend/backend.h"
#include "core/error.h"
#include "core/log.h"
#include "core/number_text.h"

namespace sd::pipeline {

namespace {

// Device memory a job needs beyond the weights: the VAE's weights (prepared at first
// use, about 0.2 GB in f16) and the activations of a native-size image.
constexpr uint64_t kWorkingMemoryBytes = 1ull << 30;

void place(models::ModuleRegistry modules, Device device) {
  for (const auto& [path, ref] : modules.modules()) ref.to(device);
}

uint64_t weight_bytes(models::ModuleRegistry modules) {
  uint64_t bytes = 0;
  for (const auto& [path, ref] : modules.modules()) bytes += ref.weight().nbytes();
  return bytes;
}

}  // namespace

std::optional<Device> prepare_while_reading(Device device) {
  return device.is_cpu() ? std::optional<Device>(device) : std::nullopt;
}

void check_fits_on_device(ModelSet& m, Device device) {
  const backend::Backend& b = backend::backend_for(device);
  const uint64_t free = b.free_memory();
  if (free == 0) return;  // the host: memory admission judges jobs instead
  uint64_t weights = weight_bytes(m.text_encoder->modules()) + weight_bytes(m.unet->modules());
  if (m.text_encoder_2) weights += weight_bytes(m.text_encoder_2->modules());
  if (weights + kWorkingMemoryBytes > free)
    throw Error("the model does not fit on " + device.str() + " (" + b.name() + "): its weights need " +
                gib_text(weights) + " plus " + gib_text(kWorkingMemoryBytes) + " of working memory, and " +
                gib_text(free) + " of " + gib_text(b.total_memory()) + " are free");
}

void place_on_device(ModelSet& m, Device device) {
  if (!device.is_cpu()) {
    check_fits_on_device(m, device);
    log_info("uploading the weights to " + device.str());
  }
  place(m.text_encoder->modules(), device);
  if (m.text_encoder_2) place(m.text_encoder_2->modules(), device);
  place(m.unet->modules(), device);
}

}  // namespace sd::pipeline
