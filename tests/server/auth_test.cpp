#include <gtest/gtest.h>

#include "server/auth.h"

namespace sd::server {
namespace {

TEST(Auth, ConstantTimeEqualComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_FALSE(constant_time_equal("secret", "secre"));
  EXPECT_FALSE(constant_time_equal("secret", ""));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a", 1)));
}

TEST(Auth, BearerHeader) {
  EXPECT_TRUE(bearer_token_matches("Bearer tok-123", "tok-123"));
  EXPECT_TRUE(bearer_token_matches("bearer tok-123", "tok-123"));
  EXPECT_TRUE(bearer_token_matches("Bearer  tok-123 ", "tok-123"));
  EXPECT_FALSE(bearer_token_matches("Bearer tok-124", "tok-123"));
  EXPECT_FALSE(bearer_token_matches("Basic tok-123", "tok-123"));
  EXPECT_FALSE(bearer_token_matches("tok-123", "tok-123"));
  EXPECT_FALSE(bearer_token_matches("", "tok-123"));
  EXPECT_FALSE(bearer_token_matches("Bearer ", "tok-123"));
}

}  // namespace
}  // namespace sd::server
