#include "pipeline/lora_location.h"

#include <sys/stat.h>

#include <filesystem>
#include <optional>

#include "core/error.h"

namespace sd::pipeline {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxReferenceChars = 1024;
constexpr size_t kShownChars = 80;

// The reference as the refusal quotes it: the client's own text, short and printable.
std::string shown(const std::string& reference) {
  std::string s;
  for (char c : reference.substr(0, kShownChars)) s += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (reference.size() > kShownChars) s += "...";
  return s;
}

bool inside(const fs::path& file, const fs::path& folder) {
  auto f = file.begin();
  for (auto d = folder.begin(); d != folder.end(); ++d, ++f)
    if (f == file.end() || *f != *d) return false;
  return f != file.end();
}

// `candidate` with every link followed, when it is a regular file inside `folder`.
std::optional<fs::path> resolve_inside(const fs::path& candidate, const fs::path& folder) {
  std::error_code ec;
  const fs::path real = fs::canonical(candidate, ec);
  if (ec || !inside(real, folder)) return std::nullopt;
  struct stat st {};
  if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return real;
}

}  // namespace

std::string resolve_lora_reference(const std::string& reference, LoraReference kind,
                                   const std::vector<std::string>& allowed_folders) {
  if (allowed_folders.empty())
    throw Error("LoRAs are disabled on this worker: it was started without a LoRA folder (--lora-dir)");
  const Error refused("no LoRA file \"" + shown(reference) + "\" in the worker's LoRA folders");
  if (reference.empty() || reference.size() > kMaxReferenceChars || reference.find('\0') != std::string::npos)
    throw refused;
  fs::path ref(reference);
  if (kind == LoraReference::Name) {
    if (ref.has_parent_path() || ref.is_absolute()) throw refused;
    if (ref.extension() != ".safetensors") ref += ".safetensors";
  }
  for (const auto& f : allowed_folders) {
    std::error_code ec;
    const fs::path folder = fs::canonical(f, ec);
    if (ec) continue;
    if (auto real = resolve_inside(ref.is_absolute() ? ref : folder / ref, folder)) return real->string();
  }
  throw refused;
}

}  // namespace sd::pipeline
