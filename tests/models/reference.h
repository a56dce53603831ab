#pragma once
// Reading the fixtures' diffusers reference tensors and the float32 tolerance their README
// recommends for single model calls: max|diff| <= 1e-4 * max(1, max|ref|).
#include <algorithm>
#include <string>

#include "io/safetensors.h"
#include "support/test_support.h"

namespace sd::test {

inline io::SafetensorsFile open_reference(const std::string& fixture) {
  return io::SafetensorsFile::open(fixtures_dir() + "/" + fixture + "/reference.safetensors");
}

inline std::string fixture_path(const std::string& rel) { return fixtures_dir() + "/" + rel; }

inline double reference_tolerance(const Tensor& ref) { return 1e-4 * std::max(1.0, max_abs(ref)); }

}  // namespace sd::test

#define EXPECT_MATCHES_REFERENCE(actual, ref) \
  EXPECT_TRUE(::sd::test::tensors_close((actual), (ref), ::sd::test::reference_tolerance(ref)))
