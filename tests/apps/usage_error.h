#pragma once
// What sd-generate must do with any command line it refuses: exit code 2, one line on
// stderr that names the mistake, and no image written.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/process.h"

namespace sd::test {

inline void expect_usage_error(const ProcessResult& r, const std::string& mentions, const std::string& output) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::string line = r.err;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  EXPECT_EQ(line.find('\n'), std::string::npos) << "more than one line:\n" << r.err;
  EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(output));
}

}  // namespace sd::test
