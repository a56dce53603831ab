#include "pipeline/noise_source.h"

#include <cctype>
#include <string>

#include "sampling/philox_generator.h"
#include "sampling/torch_cpu_generator.h"

namespace sd::pipeline {

const char* noise_source_name(NoiseSource source) { return source == NoiseSource::Philox ? "gpu" : "cpu"; }

std::optional<NoiseSource> parse_noise_source(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "cpu") return NoiseSource::TorchCpu;
  // A1111's "NV" is its CPU emulation of the NVIDIA stream: the same numbers as "GPU".
  if (lower == "gpu" || lower == "nv") return NoiseSource::Philox;
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
