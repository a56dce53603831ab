#include "io/replace_file.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "core/error.h"

namespace sd::io {

namespace fs = std::filesystem;

void replace_file(const std::string& path, const std::function<void(std::ofstream&)>& write) {
  static std::atomic<unsigned> serial{0};  // threads of one process writing the same path
  std::error_code ec;
  const bool in_place = fs::exists(path, ec) && (!fs::is_regular_file(path, ec) || fs::is_symlink(path, ec));
  const std::string target =
      in_place ? path : path + ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
  struct RemoveUnlessKept {
    const std::string& file;
    bool keep;
    ~RemoveUnlessKept() {
      std::error_code ignored;
      if (!keep) fs::remove(file, ignored);
    }
  } partial{target, in_place};
  {
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot open for writing");
    write(out);
    out.close();
    if (!out) throw Error(path + ": write failed");
  }
  if (in_place) return;
  fs::rename(target, path, ec);
  if (ec) throw Error(path + ": cannot put the written file in place: " + ec.message());
  partial.keep = true;
}

}  // namespace sd::io
