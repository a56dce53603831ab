// base64 (RFC 4648): the RFC's test vectors, round trips, data URLs, whitespace, and
// invalid or oversized input (also run under ASan+UBSan as test_asan).
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "io/image.h"

namespace sd::io {
namespace {

std::string decode_str(std::string_view s) {
  auto v = base64_decode(s);
  return std::string(v.begin(), v.end());
}

std::string encode_str(const std::string& s) {
  return base64_encode(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string decode_error(std::string_view s, size_t max_bytes = SIZE_MAX) {
  try {
    base64_decode(s, max_bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto& [plain, coded] : vectors) {
    EXPECT_EQ(encode_str(plain), coded);
    EXPECT_EQ(decode_str(coded), plain);
  }
}

TEST(Base64, RoundTripsEveryByteAndLength) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[size_t(i)] = uint8_t(i);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
  std::mt19937 rng(5);
  for (size_t n = 0; n < 70; ++n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = uint8_t(rng());
    std::string e = base64_encode(v);
    EXPECT_EQ(e.size(), (n + 2) / 3 * 4);
    EXPECT_EQ(base64_decode(e), v) << n;
  }
}

TEST(Base64, DataUrlPrefixAndWhitespace) {
  EXPECT_EQ(decode_str("data:image/png;base64,Zm9vYmFy"), "foobar");
  EXPECT_EQ(decode_str("  data:image/jpeg;name=x.jpg;base64,Zm9v"), "foo");
  EXPECT_EQ(decode_str("data:;base64,Zg=="), "f");
  EXPECT_EQ(decode_str("Zm9v\nYmFy\r\n"), "foobar");
  EXPECT_EQ(decode_str(" Z m 9 v Y g = = \t"), "foob");
  EXPECT_EQ(decode_str("Zm9vYg=\n="), "foob");
  EXPECT_EQ(decode_str(""), "");
  EXPECT_EQ(decode_str(" \n "), "");
}

TEST(Base64Hostile, InvalidCharacters) {
  EXPECT_HAS(decode_error("Zm9v!"), "invalid character (byte 33) at offset 4");
  EXPECT_HAS(decode_error("Zm9-"), "invalid character");  // base64url is not accepted
  EXPECT_HAS(decode_error("Zm9_"), "invalid character");
  EXPECT_HAS(decode_error(std::string("Zm\0v", 4)), "invalid character (byte 0)");
  EXPECT_HAS(decode_error("Zm9v\xff"), "invalid character (byte 255)");
  EXPECT_HAS(decode_error("Zm9v\xc3\xa9"), "invalid character");
}

TEST(Base64Hostile, BadLengthAndPadding) {
  EXPECT_HAS(decode_error("Zm9"), "length 3 is not a multiple of 4");
  EXPECT_HAS(decode_error("Zg"), "not a multiple of 4");
  EXPECT_HAS(decode_error("Z"), "not a multiple of 4");
  EXPECT_HAS(decode_error("Zg="), "not a multiple of 4");
  EXPECT_HAS(decode_error("Zm=v"), "data after '=' padding");
  EXPECT_HAS(decode_error("Zg==Zg=="), "data after '=' padding");
  EXPECT_HAS(decode_error("Z==="), "bad '=' padding");
  EXPECT_HAS(decode_error("===="), "bad '=' padding");
  EXPECT_HAS(decode_error("Zm9vY==="), "bad '=' padding");
  EXPECT_HAS(decode_error("Zm9=="), "not a multiple of 4");
}

TEST(Base64Hostile, DataUrlProblems) {
  EXPECT_HAS(decode_error("data:image/png,Zm9v"), "not base64-encoded");
  EXPECT_HAS(decode_error("data:image/png;base64"), "without a ','");
  EXPECT_HAS(decode_error("data:image/png;base64,Zm9v!"), "invalid character");
}

TEST(Base64Hostile, HugeInputIsRefusedBeforeDecoding) {
  const std::string huge(size_t(64) << 20, 'A');  // would decode to 48 MiB
  EXPECT_HAS(decode_error(huge, size_t(1) << 20), "decodes to 50331648 bytes, more than the limit of 1048576");
  // Bad input far into a huge string is still found.
  std::string bad = huge;
  bad[bad.size() - 1] = '*';
  EXPECT_HAS(decode_error(bad), "invalid character (byte 42) at offset 67108863");
  // A large valid payload decodes.
  std::vector<uint8_t> big(size_t(3) << 20, 0xA5);
  EXPECT_EQ(base64_decode(base64_encode(big), big.size()), big);
  EXPECT_HAS(decode_error(base64_encode(big), big.size() - 1), "more than the limit");
}

}  // namespace
}  // namespace sd::io
