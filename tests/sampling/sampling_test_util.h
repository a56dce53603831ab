#pragma once
// Helpers shared by the sampling tests: fixture access and a generator that keeps what it drew.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "sampling/scheduler_config.h"
#include "sampling/torch_cpu_generator.h"
#include "support/test_support.h"

namespace sd::sampling::test_util {

inline io::SafetensorsFile reference(const std::string& model) {
  return io::SafetensorsFile::open(sd::test::fixtures_dir() + "/" + model + "/reference.safetensors");
}

// The model's scheduler_config.json as diffusers' from_config sees it.
inline SchedulerConfig model_config(const std::string& model) {
  return parse_scheduler_config(
      io::read_json_file(sd::test::fixtures_dir() + "/" + model + "/scheduler/scheduler_config.json"));
}

inline nlohmann::json metadata_json(const io::SafetensorsFile& f, const std::string& key) {
  auto it = f.metadata().find(key);
  if (it == f.metadata().end()) throw Error("metadata key " + key + " missing");
  return nlohmann::json::parse(it->second);
}

// Row i of a stacked [N, ...] reference tensor.
inline Tensor row(const Tensor& stacked, int64_t i) { return stacked.select(0, i).contiguous(); }

// The tolerance the fixtures README recommends for scheduler-only trajectories.
inline double step_tol(const Tensor& ref) { return 1e-5 * sd::test::max_abs(ref); }

// Draws from the torch-compatible stream and records every tensor.
class RecordingGenerator : public NoiseGenerator {
 public:
  explicit RecordingGenerator(uint64_t seed) : gen_(seed) {}
  Tensor randn(const Shape& shape) override {
    draws.push_back(gen_.randn(shape));
    return draws.back();
  }
  std::string name() const override { return "recording"; }
  std::vector<Tensor> draws;

 private:
  TorchCpuGenerator gen_;
};

}  // namespace sd::sampling::test_util
