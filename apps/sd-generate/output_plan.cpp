#include "output_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace sd::apps {

namespace fs = std::filesystem;

namespace {

constexpr int kDefaultQuality = 80;  // A1111's jpeg_quality, also used for WebP
// Tries at the next free number when another process takes it first.
constexpr int kNumberAttempts = 1000;

// Creates `dir` when missing and proves a new file can be made in it (a probe file is
// created and removed: permission bits alone do not tell, e.g. a read-only mount).
void check_folder(const std::string& flag, const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw Error(flag + ": " + dir.string() + " exists and is not a folder");
  fs::create_directories(dir, ec);
  if (ec) throw Error(flag + ": cannot create the folder " + dir.string() + ": " + ec.message());
  std::string probe = (dir / ".sd-generate-probe-XXXXXX").string();
  const int fd = mkstemp(probe.data());
  if (fd < 0) throw Error(flag + ": cannot write into the folder " + dir.string() + ": " + std::strerror(errno));
  close(fd);
  unlink(probe.c_str());
}

// Writes `bytes` to `path`; with `exclusive`, fails with EEXIST rather than replace a file.
// Returns errno, 0 on success.
int write_file(const std::string& path, const std::vector<uint8_t>& bytes, bool exclusive) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0644);
  if (fd < 0) return errno;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      close(fd);
      unlink(path.c_str());
      return err;
    }
    done += size_t(n);
  }
  if (close(fd) != 0) return errno;
  return 0;
}

// A1111's numbering: one more than the largest number any file in `dir` starts with
// ("00007-1234.png" counts 7), so numbers keep growing across runs.
int next_number(const fs::path& dir) {
  int largest = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    size_t digits = 0;
    while (digits < name.size() && digits < 9 && std::isdigit(static_cast<unsigned char>(name[digits]))) ++digits;
    if (digits > 0 && digits < name.size() && name[digits] == '-') largest = std::max(largest, std::stoi(name.substr(0, digits)));
  }
  return largest + 1;
}

}  // namespace

OutputPlan OutputPlan::make(const Options& o, int image_count) {
  OutputPlan p;
  p.output_ = o.output;
  p.dir_ = o.output_dir;
  p.image_count_ = image_count;
  if (p.output_.empty() && p.dir_.empty()) throw Error("--output or --output-dir is required");

  // --format's values are checked by the parser: a given name always maps to a format.
  const bool named = !o.format.empty();
  const io::ImageFormat format = io::image_format_from_name(o.format).value_or(io::ImageFormat::Png);
  p.format_ = format;
  std::error_code ec;
  if (!p.output_.empty() && fs::is_directory(p.output_, ec))
    throw Error("--output " + p.output_ + " is a folder (use --output-dir to write numbered files into it)");
  if (!p.output_.empty()) {
    const auto by_extension = io::image_format_from_path(p.output_);
    if (!by_extension && !named)
      throw Error("--output " + p.output_ + ": the extension names no image format (.png, .jpg, .jpeg, .webp); "
                  "add one or pass --format");
    if (by_extension && named && *by_extension != format)
      throw Error("--format " + o.format + " contradicts --output " + p.output_ + ", whose extension says " +
                  io::image_format_name(*by_extension));
    if (by_extension) p.format_ = *by_extension;
  }
  if (o.quality && p.format_ == io::ImageFormat::Png)
    throw Error("--quality applies to JPEG and WebP only; PNG output is lossless");
  p.quality_ = o.quality.value_or(kDefaultQuality);

  if (!p.dir_.empty()) {
    check_folder("--output-dir", p.dir_);
    return p;
  }
  const fs::path parent = fs::path(p.output_).parent_path();
  check_folder("--output", parent.empty() ? fs::path(".") : parent);
  if (fs::exists(p.output_, ec) && access(p.output_.c_str(), W_OK) != 0)
    throw Error("--output " + p.output_ + ": cannot replace the file: " + std::strerror(errno));
  return p;
}

std::string OutputPlan::write(int index, uint64_t seed, const std::vector<uint8_t>& bytes) const {
  const std::string ext = io::image_format_name(format_);
  if (dir_.empty()) {
    std::string path = output_;
    if (image_count_ > 1) {
      const fs::path out(output_);
      const std::string extension = out.has_extension() ? out.extension().string() : "." + ext;
      path = (out.parent_path() / (out.stem().string() + "-" + std::to_string(index + 1) + extension)).string();
    }
    if (int err = write_file(path, bytes, false)) throw Error(path + ": cannot write: " + std::strerror(err));
    return path;
  }
  int number = next_number(dir_);
  for (int attempt = 0; attempt < kNumberAttempts; ++attempt, ++number) {
    char name[64];
    std::snprintf(name, sizeof name, "%05d-%llu.%s", number, static_cast<unsigned long long>(seed),
                  ext == "jpeg" ? "jpg" : ext.c_str());
    const std::string path = (fs::path(dir_) / name).string();
    const int err = write_file(path, bytes, true);
    if (err == 0) return path;
    if (err != EEXIST) throw Error(path + ": cannot write: " + std::strerror(err));
  }
  throw Error("--output-dir " + dir_ + ": no free file number after " + std::to_string(kNumberAttempts) + " tries");
}

}  // namespace sd::apps
