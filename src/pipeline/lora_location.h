#pragma once
// Where a job may read LoRA files from. A job names a LoRA by a file name or a path; the
// worker reads it only when, after following every symbolic link, it is a regular file
// inside one of the folders the operator allowed. Every refusal has the same message,
// whether or not the file exists, so a client learns nothing about files elsewhere.
#include <string>
#include <vector>

namespace sd::pipeline {

enum class LoraReference {
  Path,  // a path relative to an allowed folder, or an absolute path inside one
  Name,  // a file name in an allowed folder; ".safetensors" is added when missing
};

// The canonical path of the LoRA file `reference` denotes. Throws sd::Error when no folder
// is allowed, or when the reference does not resolve to a regular file inside one.
std::string resolve_lora_reference(const std::string& reference, LoraReference kind,
                                   const std::vector<std::string>& allowed_folders);

}  // namespace sd::pipeline
