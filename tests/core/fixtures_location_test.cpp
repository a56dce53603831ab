// Where the tests find the tiny models (../shared/fixtures, outside the repository): a
// missing folder fails the test that needs it with one line naming the folder and the
// variable that moves it, never a confusing error deeper down, and never a silent pass.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "support/test_support.h"

namespace sd {
namespace {

// Sets an environment variable for one scope, restoring what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_.empty()) unsetenv(name_);
    else setenv(name_, old_.c_str(), 1);
  }

 private:
  const char* name_;
  std::string old_;
};

TEST(FixturesLocation, AMissingFolderFailsWithOneLineNamingIt) {
  ScopedEnv env("SD_FIXTURES", "/nonexistent/fixtures");
  const std::string err = test::error_of([] { test::fixtures_dir(); });
  EXPECT_NE(err.find("/nonexistent/fixtures"), std::string::npos) << err;
  EXPECT_NE(err.find("SD_FIXTURES"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(FixturesLocation, SdFixturesNamesTheFolder) {
  const std::string dir = test::temp_dir("fixtures_location");
  ScopedEnv env("SD_FIXTURES", dir);
  EXPECT_EQ(test::fixtures_dir(), dir);
}

}  // namespace
}  // namespace sd
