#include "prompt_file.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "pipeline/request_limits.h"

namespace sd::apps {

std::vector<std::string> read_prompt_file(const std::string& path) {
  const std::string flag = "--prompt-file " + path;
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(flag + ": " + ec.message());
  // Every line at the prompt limit, plus its line break.
  const uint64_t max_bytes = kMaxPromptFileLines * (pipeline::kMaxPromptBytes + 2);
  if (size > max_bytes)
    throw Error(flag + ": " + std::to_string(size) + " bytes is more than " + std::to_string(kMaxPromptFileLines) +
                " prompts can hold");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(flag + ": cannot open");
  std::vector<std::string> prompts;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    const size_t first = line.find_first_not_of(" \t\r\f\v");
    if (first == std::string::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r\f\v") - first + 1);
    if (prompts.size() == kMaxPromptFileLines)
      throw Error(flag + ": more than " + std::to_string(kMaxPromptFileLines) + " prompts");
    pipeline::check_prompt(flag + " line " + std::to_string(number), line);
    prompts.push_back(line);
  }
  if (in.bad()) throw Error(flag + ": read failed");
  if (prompts.empty()) throw Error(flag + ": no prompt in it (every line is empty)");
  return prompts;
}

}  // namespace sd::apps
