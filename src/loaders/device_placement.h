#pragma once
// Puts a loaded model set's networks on the device the load options name: every layer
// with weights the models list by name (text encoders, UNet) is prepared there now, so
// its weights are uploaded (on a GPU) or reordered into the kernels' layout (on the CPU)
// once, at load, not during the first job. On the CPU the loaders have already done so
// as they read the weights (prepare_while_reading). The VAE's layers are prepared at
// their first use on that device.
#include <optional>

#include "core/device.h"
#include "loaders/model_set.h"

namespace sd::pipeline {

// Where a load prepares the text encoders' and the UNet's layers as it reads their
// weights (WeightSource::prepare_layers_on): on the CPU, so that no plain copy of a weight
// is made; none for a GPU, whose weights place_on_device uploads once it has checked that
// they fit.
std::optional<Device> prepare_while_reading(Device device);
// Throws sd::Error with the numbers when the model set cannot fit in the device's free
// memory (weights plus a working reserve), before anything is uploaded.
void place_on_device(ModelSet& m, Device device);
// That check alone (nothing to check on the host, whose jobs memory admission judges).
void check_fits_on_device(ModelSet& m, Device device);

}  // namespace sd::pipeline
