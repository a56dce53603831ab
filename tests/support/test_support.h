#pragma once
// Shared helpers for the test programs: where the fixtures and the third-party data are,
// reading files and error messages, and tensor comparisons that report where and by how
// much they differ.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "io/safetensors.h"

namespace sd::test {

// tests/fixtures in the source tree (override: SD_FIXTURES).
std::string fixtures_dir();
// Third-party data (CLIP vocabulary, TAESD weights): SD_TEST_DATA, default ../shared/data.
std::string data_dir();
// True when data_dir()/<sub> exists; tests that need it call GTEST_SKIP otherwise.
bool has_data(const std::string& sub);
// True when the environment says CI=true.
bool in_ci();
// Directory of the built programs (sd-generate, sd-worker-cpu...).
std::string bin_dir();
// A fresh empty directory under the system temp dir, removed by the OS eventually.
std::string temp_dir(const std::string& tag);
// A whole file's bytes; throws sd::Error when it cannot be read.
std::string read_file(const std::string& path);

// The message of the sd::Error that fn() throws, or "(no error)".
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// max |a - b| over all elements (shapes must match).
double max_abs_diff(const Tensor& a, const Tensor& b);
double max_abs(const Tensor& a);

// Asserts shapes are equal and max|a-b| <= tol, reporting the worst element.
::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double tol);

}  // namespace sd::test

// In CI (CI=true) missing data is a failure: a skipped test there would hide a broken setup.
#define SD_SKIP_WITHOUT_DATA(sub)                                                          \
  do {                                                                                     \
    if (!::sd::test::has_data(sub)) {                                                      \
      if (::sd::test::in_ci())                                                             \
        FAIL() << "third-party data " << ::sd::test::data_dir() << "/" << (sub)            \
               << " not found (set SD_TEST_DATA); CI=true makes this a failure";           \
      GTEST_SKIP() << "third-party data " << ::sd::test::data_dir() << "/" << (sub)        \
                   << " not found (set SD_TEST_DATA)";                                     \
    }                                                                                      \
  } while (0)
