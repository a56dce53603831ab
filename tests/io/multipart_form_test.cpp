// multipart/form-data: bodies as curl, browsers and the openai SDK write them, and the
// malformed or oversized ones a hostile client sends.
#include "io/multipart_form.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "support/test_support.h"

namespace sd::io {
namespace {

using test::error_of;

TEST(MultipartBoundary, FromContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk"),
            "----WebKitFormBoundary7MA4YWxk");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;BOUNDARY=\"a b'c\""), "a b'c");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; boundary=x;"), "x");
}

TEST(MultipartBoundary, RefusesOtherTypesAndBadBoundaries) {
  EXPECT_NE(error_of([] { multipart_boundary("application/json"); }).find("not multipart/form-data"),
            std::string::npos);
  EXPECT_NE(error_of([] { multipart_boundary("multipart/form-data"); }).find("no boundary"), std::string::npos);
  EXPECT_NE(error_of([] { multipart_boundary("multipart/form-data; boundary="); }).find("no boundary"),
            std::string::npos);
  EXPECT_NE(error_of([] { multipart_boundary("multipart/form-data; boundary=\"ends with space \""); })
                .find("malformed multipart boundary"),
            std::string::npos);
  EXPECT_NE(error_of([] { multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'b')); })
                .find("malformed multipart boundary"),
            std::string::npos);
  EXPECT_NE(error_of([] { multipart_boundary("multipart/form-data; boundary=\"open"); }).find("unterminated"),
            std::string::npos);
}

TEST(MultipartForm, FieldsAndFilesWithBinaryData) {
  const std::string png("\x89PNG\r\n\x1a\n\0\r\n-", 12);
  const std::string body = "preamble to ignore\r\n--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
                           "a red fox\r\non two lines\r\n"
                           "--XyZ\r\n"
                           "content-disposition: form-data; name=\"image\"; filename=\"in \\\"1\\\".png\"\r\n"
                           "Content-Type: image/png\r\n\r\n" +
                           png +
                           "\r\n--XyZ  \r\n"
                           "Content-Disposition: form-data; name=n\r\n\r\n"
                           "2\r\n--XyZ--\r\nepilogue";
  auto parts = parse_multipart_form(body, "XyZ");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].name, "prompt");
  EXPECT_FALSE(parts[0].filename);
  EXPECT_EQ(parts[0].data, "a red fox\r\non two lines");
  EXPECT_EQ(parts[1].name, "image");
  ASSERT_TRUE(parts[1].filename);
  EXPECT_EQ(*parts[1].filename, "in \"1\".png");
  EXPECT_EQ(parts[1].content_type, "image/png");
  EXPECT_EQ(parts[1].data, png);
  EXPECT_EQ(parts[2].name, "n");
  EXPECT_EQ(parts[2].data, "2");
}

TEST(MultipartForm, BodyStartingWithTheBoundaryAndEmptyParts) {
  auto parts = parse_multipart_form("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n--b--", "b");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].data, "");
  EXPECT_TRUE(parse_multipart_form("--b--\r\n", "b").empty());
}

TEST(MultipartForm, MalformedBodies) {
  const std::string head = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n";
  EXPECT_NE(error_of([] { parse_multipart_form("no boundary here", "b"); }).find("never occurs"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_multipart_form(head + "data without end", "b"); }).find("cut short"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_multipart_form("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "b"); })
                .find("no Content-Disposition"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_multipart_form("--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--", "b"); })
                .find("not form-data"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_multipart_form("--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", "b"); })
                .find("has no name"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_multipart_form("--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nx\r\n--b--", "b"); })
                .find("folded"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_multipart_form("--bX\r\n", "b"); }).find("does not end"), std::string::npos);
  EXPECT_NE(error_of([] { parse_multipart_form("--b\r\nContent-Disposition: form-data; name=a", "b"); })
                .find("not terminated"),
            std::string::npos);
}

TEST(MultipartForm, LimitsOnPartsAndHeaders) {
  std::string body;
  for (int i = 0; i < 5; ++i) body += "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n";
  body += "--b--";
  EXPECT_EQ(parse_multipart_form(body, "b", {5, 8192}).size(), 5u);
  EXPECT_NE(error_of([&] { parse_multipart_form(body, "b", {4, 8192}); }).find("more than 4 parts"),
            std::string::npos);
  const std::string long_header =
      "--b\r\nContent-Disposition: form-data; name=\"" + std::string(200, 'n') + "\"\r\n\r\nv\r\n--b--";
  EXPECT_NE(error_of([&] { parse_multipart_form(long_header, "b", {64, 100}); }).find("over 100 bytes"),
            std::string::npos);
  EXPECT_EQ(parse_multipart_form(long_header, "b", {64, 300}).at(0).name, std::string(200, 'n'));
}

}  // namespace
}  // namespace sd::io
