#pragma once
// Writing a file whole or not at all.
#include <fstream>
#include <functional>
#include <string>

namespace sd::io {

// `write` fills a binary stream on a new file beside `path`, which is renamed over `path`
// once written and closed: a writer that fails (an exception from `write` included) or is
// killed never leaves a truncated file under `path`, and the file it replaces stays as it
// was until the rename. A path that is a link, or not a regular file (a pipe,
// /dev/stdout), is written in place, through it. Throws sd::Error naming `path`.
void replace_file(const std::string& path, const std::function<void(std::ofstream&)>& write);

}  // namespace sd::io
