// read_json_file: model configs and vocabularies are files from outside, bounded like
// request bodies.
#include "io/json_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/test_support.h"

namespace sd::io {
namespace {

TEST(JsonFile, ReadsAConfig) {
  const std::string path = test::temp_dir("json-file") + "/config.json";
  std::ofstream(path) << R"({"block_out_channels": [320, 640], "norm_eps": 1e-05, "act_fn": "silu"})";
  const Json j = read_json_file(path);
  EXPECT_EQ(j["block_out_channels"][1], 640);
  EXPECT_EQ(j["act_fn"], "silu");
}

TEST(JsonFile, AFileLargerThanAnyConfigIsRefusedUnread) {
  const std::string path = test::temp_dir("json-file-big") + "/config.json";
  std::ofstream(path) << "{}";
  std::filesystem::resize_file(path, kMaxJsonFileBytes + 1);  // sparse
  EXPECT_EQ(test::error_of([&] { read_json_file(path); }),
            path + ": 16777217 bytes; a JSON file has at most 16 MB");
}

TEST(JsonFile, NestingAndValueCountsBeyondAnyConfigAreRefused) {
  const std::string dir = test::temp_dir("json-file-shape");
  std::ofstream(dir + "/deep.json") << std::string(100, '[') << std::string(100, ']');
  EXPECT_EQ(test::error_of([&] { read_json_file(dir + "/deep.json"); }),
            dir + "/deep.json: the JSON nests deeper than 32 levels");
  {
    std::ofstream many(dir + "/many.json");
    many << '[';
    for (int i = 0; i < (1 << 20) + 1; ++i) many << (i ? ",0" : "0");
    many << ']';
  }
  EXPECT_NE(test::error_of([&] { read_json_file(dir + "/many.json"); }).find(dir + "/many.json: the JSON has more than"),
            std::string::npos);
  std::ofstream(dir + "/bad.json") << "{\"a\": }";
  EXPECT_EQ(test::error_of([&] { read_json_file(dir + "/bad.json"); }).rfind(dir + "/bad.json: not valid JSON: ", 0), 0u);
}

TEST(JsonFile, AFifoIsRefusedWithoutWaitingForAWriter) {
  const std::string fifo = test::make_fifo(test::temp_dir("json-file-fifo") + "/config.json");
  EXPECT_EQ(test::error_of_without_waiting_on(fifo, [&] { read_json_file(fifo); }), fifo + ": not a regular file");
}

}  // namespace
}  // namespace sd::io
