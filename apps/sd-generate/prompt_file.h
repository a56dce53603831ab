#pragma once
// --prompt-file: one prompt per line, each a job of its own after one model load.
#include <string>
#include <vector>

namespace sd::apps {

// At most this many prompts, so that a wrong file (a log, a dataset) is refused at once.
constexpr size_t kMaxPromptFileLines = 1000;

// The non-empty lines of `path` (CRLF or LF; surrounding whitespace removed), each checked
// as a prompt. Throws sd::Error naming the file (and the line) for a file too large, with
// too many prompts, none at all, or a line that is no valid prompt.
std::vector<std::string> read_prompt_file(const std::string& path);

}  // namespace sd::apps
