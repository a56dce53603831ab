#pragma once
// Which random stream a request's seed selects, by the names front ends use:
//   "cpu"  torch.randn on a CPU generator: diffusers' images, A1111's "CPU" (the default)
//   "gpu"  torch.randn on an NVIDIA GPU (Philox): A1111's "GPU"/"NV", ComfyUI's GPU noise
// Names match case-insensitively, and "nv" (A1111's randn_source "NV") means "gpu".
// The initial latent, the VAE sample of img2img/inpaint inputs, add_noise and every
// sampler step that draws (ancestral, SDE, LCM) all come from the one generator made here.
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "pipeline/request.h"
#include "sampling/noise_generator.h"

namespace sd::pipeline {

const char* noise_source_name(NoiseSource source);
std::optional<NoiseSource> parse_noise_source(std::string_view name);
const std::vector<std::string>& noise_source_names();

std::unique_ptr<sampling::NoiseGenerator> make_noise_generator(NoiseSource source, uint64_t seed);

}  // namespace sd::pipeline
