#include "pipeline/noise_source.h"

#include "sampling/philox_generator.h"
#include "sampling/torch_cpu_generator.h"

namespace sd::pipeline {

const char* noise_source_name(NoiseSource source) { return source == NoiseSource::Philox ? "gpu" : "cpu"; }

std::optional<NoiseSource> parse_noise_source(std::string_view name) {
  if (name == "cpu") return NoiseSource::TorchCpu;
  if (name == "gpu") return NoiseSource::Philox;
  return std::nullopt;
}

const std::vector<std::string>& noise_source_names() {
  static const std::vector<std::string> names{"cpu", "gpu"};
  return names;
}

std::unique_ptr<sampling::NoiseGenerator> make_noise_generator(NoiseSource source, uint64_t seed) {
  if (source == NoiseSource::Philox) return std::make_unique<sampling::PhiloxGenerator>(seed);
  return std::make_unique<sampling::TorchCpuGenerator>(seed);
}

}  // namespace sd::pipeline
