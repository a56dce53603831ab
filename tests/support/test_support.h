#pragma once
// Shared helpers for the test programs: where the fixtures and the third-party data are,
// reading files and error messages, and tensor comparisons that report where and by how
// much they differ.
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "io/image.h"
#include "io/safetensors.h"

namespace sd::test {

// The tiny reference models and diffusers' tensors: SD_FIXTURES, default ../shared/fixtures
// beside the source tree (94 MB, kept out of the repository). Throws sd::Error naming the
// folder when it is missing, so every test that needs it fails with that line.
std::string fixtures_dir();
// Third-party data (CLIP vocabulary, TAESD weights): SD_TEST_DATA, default ../shared/data.
std::string data_dir();
// True when data_dir()/<sub> exists; tests that need it use SD_SKIP_WITHOUT_DATA.
bool has_data(const std::string& sub);
// True when the environment says CI=true: missing test data is then a failure.
bool in_ci();
// Directory of the built programs (sd-generate, sd-worker-cpu...).
std::string bin_dir();
// A fresh empty directory under the system temp dir, removed by the OS eventually.
std::string temp_dir(const std::string& tag);
// fixtures_dir()/<model> as a fresh folder whose tokenizer folders hold their configs but
// no vocab.json/merges.txt (links to everything else), as a model without a vocabulary.
std::string model_without_vocabulary(const std::string& model);
// A whole file's bytes; throws sd::Error when it cannot be read.
std::string read_file(const std::string& path);
// The names of the entries of a folder, sorted.
std::vector<std::string> files_in(const std::string& dir);

// A named pipe at `path` (returned). Opening it for reading waits for a writer.
std::string make_fifo(const std::string& path);
// error_of(fn) for code that must refuse the FIFO at `fifo` rather than wait on it: when fn
// is still blocked after 10 s, a writer opens the FIFO to release it, and the answer is
// "(blocked on the FIFO)".
std::string error_of_without_waiting_on(const std::string& fifo, const std::function<void()>& fn);

// The share of the file's pages that are in the page cache now (1 for an empty file).
double cached_share(const std::string& path);
// Writes the file's pages to the disk and drops them from the page cache, so that the next
// read of it comes from the disk. Returns false where the filesystem keeps them anyway
// (tmpfs keeps its pages in memory: there is no disk to read them back from).
bool drop_from_page_cache(const std::string& path);

// Sets (or, with nullopt, unsets) an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

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
// How many elements differ in their float32 bits (shapes must match): 0 for bit-exact.
int64_t bit_mismatches(const Tensor& a, const Tensor& b);

// PSNR in dB of `actual` against `expected` for values spanning `peak` (+inf when equal).
// Throws sd::Error when the shapes differ: a wrong-sized result must never score.
double psnr(const Tensor& actual, const Tensor& expected, double peak);
// The same for 8-bit images (peak 255); throws unless size and channels match.
double psnr(const io::Image& actual, const io::Image& expected);

// Asserts shapes are equal and max|a-b| <= tol, reporting the worst element.
::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double tol);

}  // namespace sd::test

// A test that needs data_dir()/<sub> skips without it on a developer's machine and fails
// in CI (CI=true), where a skip would let ctest report success for tests that never ran.
#define SD_SKIP_WITHOUT_DATA(sub)                                                              \
  do {                                                                                         \
    if (!::sd::test::has_data(sub)) {                                                          \
      if (::sd::test::in_ci())                                                                 \
        GTEST_FAIL() << "third-party data " << ::sd::test::data_dir() << "/" << (sub)          \
                     << " not found, and CI=true forbids skipping (set SD_TEST_DATA)";         \
      GTEST_SKIP() << "third-party data " << ::sd::test::data_dir() << "/" << (sub)            \
                   << " not found (set SD_TEST_DATA)";                                         \
    }                                                                                          \
  } while (0)
