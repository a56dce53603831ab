#include "support/test_support.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace sd::test {

namespace fs = std::filesystem;

std::string fixtures_dir() {
  if (const char* e = std::getenv("SD_FIXTURES")) return e;
  return std::string(SD_SOURCE_DIR) + "/tests/fixtures";
}

std::string data_dir() {
  if (const char* e = std::getenv("SD_TEST_DATA")) return e;
  return std::string(SD_SOURCE_DIR) + "/../shared/data";
}

bool has_data(const std::string& sub) { return fs::exists(fs::path(data_dir()) / sub); }

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::string bin_dir() { return std::string(SD_BINARY_DIR) + "/bin"; }

std::string temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  fs::path p = fs::temp_directory_path() /
               ("sdtest-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  SD_CHECK(a.shape() == b.shape(), "shape " + a.shape().str() + " vs " + b.shape().str());
  auto x = a.to_floats(), y = b.to_floats();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double d = std::fabs(double(x[i]) - double(y[i]));
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

double max_abs(const Tensor& a) {
  double m = 0;
  for (float v : a.to_floats()) m = std::max(m, double(std::fabs(v)));
  return m;
}

::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double tol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure()
           << "shape " << actual.shape().str() << " != expected " << expected.shape().str();
  auto x = actual.to_floats(), y = expected.to_floats();
  double worst = -1;
  size_t at = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double d = std::fabs(double(x[i]) - double(y[i]));
    if (std::isnan(d)) d = INFINITY;
    if (d > worst) {
      worst = d;
      at = i;
    }
  }
  if (worst <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max |diff| " << worst << " > tol " << tol << " at flat index "
                                       << at << " (actual " << x[at] << ", expected " << y[at] << ")";
}

}  // namespace sd::test
