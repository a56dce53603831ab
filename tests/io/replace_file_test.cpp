// replace_file: a file is replaced whole or not at all.
#include "io/replace_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "support/test_support.h"

namespace sd::io {
namespace {

namespace fs = std::filesystem;

TEST(ReplaceFile, AFailedWriteKeepsTheOldFileAndLeavesNothingBeside) {
  const std::string dir = test::temp_dir("replace-fail");
  const std::string path = dir + "/f";
  replace_file(path, [](std::ofstream& out) { out << "old"; });
  const std::string msg = test::error_of([&] {
    replace_file(path, [](std::ofstream& out) {
      out << "half of the new";
      throw Error("the writer failed");
    });
  });
  EXPECT_NE(msg.find("the writer failed"), std::string::npos) << msg;
  EXPECT_EQ(test::read_file(path), "old");
  EXPECT_EQ(test::files_in(dir), (std::vector<std::string>{"f"}));
  replace_file(path, [](std::ofstream& out) { out << "new"; });
  EXPECT_EQ(test::read_file(path), "new");
  EXPECT_EQ(test::files_in(dir), (std::vector<std::string>{"f"}));
}

TEST(ReplaceFile, ALinkIsWrittenThrough) {
  const std::string dir = test::temp_dir("replace-link");
  replace_file(dir + "/target", [](std::ofstream& out) { out << "one"; });
  fs::create_symlink("target", dir + "/link");
  replace_file(dir + "/link", [](std::ofstream& out) { out << "two"; });
  EXPECT_TRUE(fs::is_symlink(dir + "/link"));
  EXPECT_EQ(test::read_file(dir + "/target"), "two");
}

TEST(ReplaceFile, AFolderThatIsNotThereIsNamed) {
  const std::string dir = test::temp_dir("replace-missing");
  const std::string msg = test::error_of([&] { replace_file(dir + "/no/such/f", [](std::ofstream&) {}); });
  EXPECT_NE(msg.find(dir + "/no/such/f: cannot open"), std::string::npos) << msg;
}

}  // namespace
}  // namespace sd::io
