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

// AUTOMATIC1111 clients send Basic credentials: any user, the token as the password.
TEST(Auth, BasicHeaderWithTheTokenAsPassword) {
  // base64("user:tok-123"), base64(":tok-123"), base64("a:b:tok-123")
  EXPECT_TRUE(basic_password_matches("Basic dXNlcjp0b2stMTIz", "tok-123"));
  EXPECT_TRUE(basic_password_matches("basic dXNlcjp0b2stMTIz ", "tok-123"));
  EXPECT_TRUE(basic_password_matches("Basic OnRvay0xMjM=", "tok-123"));
  EXPECT_FALSE(basic_password_matches("Basic YTpiOnRvay0xMjM=", "tok-123")) << "the password is after the first colon";
  EXPECT_FALSE(basic_password_matches("Basic dXNlcjp0b2stMTI0", "tok-123"));  // user:tok-124
  EXPECT_FALSE(basic_password_matches("Basic dG9rLTEyMw==", "tok-123"));      // tok-123, no colon
  EXPECT_FALSE(basic_password_matches("Basic !!!!", "tok-123"));
  EXPECT_FALSE(basic_password_matches("Basic ", "tok-123"));
  EXPECT_FALSE(basic_password_matches("Bearer tok-123", "tok-123"));
  EXPECT_FALSE(basic_password_matches("Basic " + std::string(5000, 'A'), "tok-123"));
}

TEST(Auth, EitherSchemeAuthorizes) {
  EXPECT_TRUE(authorization_matches("Bearer tok-123", "tok-123"));
  EXPECT_TRUE(authorization_matches("Basic dXNlcjp0b2stMTIz", "tok-123"));
  EXPECT_FALSE(authorization_matches("Basic dXNlcjp0b2stMTI0", "tok-123"));
  EXPECT_FALSE(authorization_matches("Digest tok-123", "tok-123"));
  EXPECT_FALSE(authorization_matches("", "tok-123"));
}

}  // namespace
}  // namespace sd::server
