#include "support/test_support.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <sstream>
#include <vector>

namespace sd::test {

namespace {
void set_env(const char* name, const std::optional<std::string>& v) {
  if (v)
    setenv(name, v->c_str(), 1);
  else
    unsetenv(name);
}
}  // namespace

ScopedEnv::ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  set_env(name_, value);
}

ScopedEnv::~ScopedEnv() { set_env(name_, old_); }

namespace fs = std::filesystem;

std::string fixtures_dir() {
  const char* e = std::getenv("SD_FIXTURES");
  const std::string dir = e ? std::string(e) : std::string(SD_SOURCE_DIR) + "/../shared/fixtures";
  // A missing folder fails the test that needs it with this line rather than with a
  // confusing "cannot open" deeper down; the fixtures are never optional, in CI or not.
  if (!fs::is_directory(dir))
    throw Error("test fixtures " + dir + " not found (set SD_FIXTURES to the shared fixtures folder)");
  return dir;
}

std::string data_dir() {
  if (const char* e = std::getenv("SD_TEST_DATA")) return e;
  return std::string(SD_SOURCE_DIR) + "/../shared/data";
}

bool has_data(const std::string& sub) { return fs::exists(fs::path(data_dir()) / sub); }

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::string bin_dir() { return std::string(SD_BINARY_DIR) + "/bin"; }

std::string model_without_vocabulary(const std::string& model) {
  const fs::path from = fs::path(fixtures_dir()) / model;
  const fs::path to = fs::path(temp_dir("novocab-" + model)) / model;
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(from)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("tokenizer", 0) != 0) {
      fs::create_symlink(entry.path(), to / name);
      continue;
    }
    fs::create_directories(to / name);
    for (const auto& f : fs::directory_iterator(entry.path()))
      if (f.path().filename() != "vocab.json" && f.path().filename() != "merges.txt")
        fs::copy_file(f.path(), to / name / f.path().filename());
  }
  return to.string();
}

std::string temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  fs::path p = fs::temp_directory_path() /
               ("sdtest-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

double cached_share(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open");
  const off_t size = lseek(fd, 0, SEEK_END);
  // Mapping a file does not read it; mincore reports which of its pages are cached.
  void* map = size > 0 ? mmap(nullptr, size_t(size), PROT_READ, MAP_SHARED, fd, 0) : nullptr;
  ::close(fd);
  if (size <= 0) return 1.0;
  if (map == MAP_FAILED) throw Error(path + ": cannot map");
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((size_t(size) + page - 1) / page);
  const int rc = mincore(map, size_t(size), in_core.data());
  munmap(map, size_t(size));
  if (rc != 0) throw Error(path + ": mincore failed");
  size_t cached = 0;
  for (unsigned char c : in_core) cached += c & 1;
  return double(cached) / double(in_core.size());
}

bool drop_from_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open");
  // Dirty pages are not dropped: they are written first.
  const bool dropped = fsync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return dropped && cached_share(path) == 0.0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string make_fifo(const std::string& path) {
  if (mkfifo(path.c_str(), 0600) != 0) throw Error(path + ": mkfifo: " + std::strerror(errno));
  return path;
}

std::string error_of_without_waiting_on(const std::string& fifo, const std::function<void()>& fn) {
  auto answer = std::async(std::launch::async, [&] { return error_of(fn); });
  if (answer.wait_for(std::chrono::seconds(10)) == std::future_status::ready) return answer.get();
  const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (writer >= 0) ::close(writer);
  answer.wait();
  return "(blocked on the FIFO)";
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

int64_t bit_mismatches(const Tensor& a, const Tensor& b) {
  SD_CHECK(a.shape() == b.shape(), "shape " + a.shape().str() + " vs " + b.shape().str());
  const auto x = a.to_floats(), y = b.to_floats();
  int64_t n = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::memcmp(&x[i], &y[i], sizeof(float)) != 0) ++n;
  return n;
}

double max_abs(const Tensor& a) {
  double m = 0;
  for (float v : a.to_floats()) m = std::max(m, double(std::fabs(v)));
  return m;
}

namespace {
double psnr_of(double squared_error_sum, size_t count, double peak) {
  const double mse = squared_error_sum / double(count);
  return mse == 0 ? INFINITY : 10 * std::log10(peak * peak / mse);
}
}  // namespace

double psnr(const Tensor& actual, const Tensor& expected, double peak) {
  SD_CHECK(actual.shape() == expected.shape() && actual.numel() > 0,
           "psnr of " + actual.shape().str() + " against " + expected.shape().str());
  const auto x = actual.to_floats(), y = expected.to_floats();
  double se = 0;
  for (size_t i = 0; i < x.size(); ++i) se += (double(x[i]) - double(y[i])) * (double(x[i]) - double(y[i]));
  return psnr_of(se, x.size(), peak);
}

double psnr(const io::Image& actual, const io::Image& expected) {
  SD_CHECK(actual.width == expected.width && actual.height == expected.height &&
               actual.channels == expected.channels && actual.pixels.size() == expected.pixels.size() &&
               !actual.pixels.empty(),
           "psnr of a " + std::to_string(actual.width) + "x" + std::to_string(actual.height) + "x" +
               std::to_string(actual.channels) + " image against " + std::to_string(expected.width) + "x" +
               std::to_string(expected.height) + "x" + std::to_string(expected.channels));
  double se = 0;
  for (size_t i = 0; i < actual.pixels.size(); ++i) {
    const double d = double(actual.pixels[i]) - double(expected.pixels[i]);
    se += d * d;
  }
  return psnr_of(se, actual.pixels.size(), 255.0);
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
