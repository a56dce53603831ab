// read_file: files from outside are refused before anything waits on them or reads them
// whole beyond their bound.
#include "io/read_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "support/test_support.h"

namespace sd::io {
namespace {

namespace fs = std::filesystem;

TEST(ReadFile, ReadsEveryByte) {
  const std::string dir = test::temp_dir("read-file");
  std::string bytes(3 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(i * 7 + (i >> 12));
  std::ofstream(dir + "/f", std::ios::binary) << bytes;
  EXPECT_EQ(read_file_bounded(dir + "/f", bytes.size(), "a test file"), bytes);
  std::ofstream(dir + "/empty", std::ios::binary);
  EXPECT_EQ(read_file_bounded(dir + "/empty", 0, "a test file"), "");
}

TEST(ReadFile, AFileOverItsBoundIsRefusedUnread) {
  const std::string dir = test::temp_dir("read-file-bound");
  std::ofstream(dir + "/big", std::ios::binary);
  fs::resize_file(dir + "/big", uint64_t(1) << 30);  // sparse: no disk, and reading it takes a while
  EXPECT_EQ(test::error_of([&] { read_file_bounded(dir + "/big", uint64_t(16) << 20, "a JSON file"); }),
            dir + "/big: 1073741824 bytes; a JSON file has at most 16 MB");
  EXPECT_EQ(test::error_of([&] { read_file_bounded(dir + "/big", 1000, "a test file"); }),
            dir + "/big: 1073741824 bytes; a test file has at most 1000 bytes");
}

TEST(ReadFile, AFifoIsRefusedWithoutWaitingForAWriter) {
  const std::string fifo = test::make_fifo(test::temp_dir("read-file-fifo") + "/pipe");
  EXPECT_EQ(test::error_of_without_waiting_on(fifo, [&] { read_file_bounded(fifo, 1 << 20, "a test file"); }),
            fifo + ": not a regular file");
  EXPECT_EQ(test::error_of_without_waiting_on(fifo, [&] { ::close(open_regular_file(fifo).fd); }),
            fifo + ": not a regular file");
}

TEST(ReadFile, AMissingFileAndAFolderAreNamed) {
  const std::string dir = test::temp_dir("read-file-names");
  EXPECT_EQ(test::error_of([&] { read_file_bounded(dir + "/absent", 1, "a test file"); }),
            dir + "/absent: No such file or directory");
  EXPECT_EQ(test::error_of([&] { read_file_bounded(dir, 1, "a test file"); }), dir + ": is a directory");
}

}  // namespace
}  // namespace sd::io
