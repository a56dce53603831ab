#include "loaders/device_placement.h"

#include "core/log.h"

namespace sd::pipeline {

namespace {
void place(models::ModuleRegistry modules, Device device) {
  for (const auto& [path, ref] : modules.modules()) ref.to(device);
}
}  // namespace

void place_on_device(ModelSet& m, Device device) {
  if (device.is_cpu()) return;
  log_info("uploading the weights to " + device.str());
  place(m.text_encoder->modules(), device);
  if (m.text_encoder_2) place(m.text_encoder_2->modules(), device);
  place(m.unet->modules(), device);
}

}  // namespace sd::pipeline
