#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "io/json_bounded.h"
#include "support/test_support.h"

namespace sd::io {
namespace {

using nlohmann::json;

std::string error_of(std::string_view text, const JsonLimits& limits = {}) {
  try {
    parse_json_bounded(text, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonBounded, ParsesWhatNlohmannParses) {
  const std::string text =
      R"({"a":[1,-2,3.5,true,false,null,"x\u00e9"],"b":{"c":{"d":[]},"e":{}},"f":18446744073709551615,"a2":"")";
  EXPECT_EQ(parse_json_bounded(text + "}"), json::parse(text + "}"));
  EXPECT_EQ(parse_json_bounded("7"), json(7));
  EXPECT_EQ(parse_json_bounded(R"({"k":1,"k":2})")["k"], 2);  // the last of a repeated key, as nlohmann
}

TEST(JsonBounded, SyntaxErrorsNameThePlaceAndQuoteNoInput) {
  for (std::string text : {std::string("{bad json"), std::string(""), std::string("{\"a\":1,}"),
                           std::string("[1] 2"), "\"" + std::string(100000, 'x')}) {
    std::string e = error_of(text);
    EXPECT_EQ(e.rfind("not valid JSON: ", 0), 0u) << e;
    EXPECT_NE(e.find("line 1, column"), std::string::npos) << e;
    EXPECT_LT(e.size(), 300u) << e.substr(0, 300);
  }
}

TEST(JsonBounded, ANulByteIsRefusedWhereverItIs) {
  EXPECT_EQ(error_of(std::string("{\"a\":1}\0{\"b\":2}", 15)), "not valid JSON: a NUL byte at offset 7");
  EXPECT_EQ(error_of(std::string("{\"a\":\"x\0\"}", 10)), "not valid JSON: a NUL byte at offset 7");
  EXPECT_EQ(error_of(std::string("\0", 1)), "not valid JSON: a NUL byte at offset 0");
}

TEST(JsonBounded, NumbersOutOfRangeAnywhereAreRefused) {
  const std::string huge = "1" + std::string(400, '0');
  for (std::string text : {std::string("1e400"), std::string(R"({"x":{"y":[1,-1e400]}})"), huge,
                           R"({"ignored":)" + huge + "}", std::string(R"([1E+999])")}) {
    std::string e = error_of(text);
    EXPECT_EQ(e.rfind("the JSON has a number out of range", 0), 0u) << text.substr(0, 40) << ": " << e;
    EXPECT_LT(e.size(), 300u);
  }
  // Integers beyond 64 bits that a double holds are numbers like any other.
  EXPECT_TRUE(parse_json_bounded("[123456789012345678901234567890]")[0].is_number_float());
}

TEST(JsonBounded, DepthValueCountAndStringLengthAreBounded) {
  JsonLimits limits;
  limits.max_depth = 4;
  limits.max_values = 10;
  limits.max_string_bytes = 5;
  EXPECT_NO_THROW(parse_json_bounded("[[[[1]]]]", limits));
  EXPECT_EQ(error_of("[[[[[1]]]]]", limits), "the JSON nests deeper than 4 levels");
  EXPECT_EQ(error_of(R"({"a":{"b":{"c":{"d":{}}}}})", limits), "the JSON nests deeper than 4 levels");
  EXPECT_NO_THROW(parse_json_bounded("[1,2,3,4,5,6,7,8,9]", limits));
  EXPECT_EQ(error_of("[1,2,3,4,5,6,7,8,9,10]", limits), "the JSON has more than 10 values");
  EXPECT_EQ(error_of(R"({"a":1,"b":2,"c":3,"d":4,"e":5})", limits), "the JSON has more than 10 values");  // keys count
  EXPECT_NO_THROW(parse_json_bounded(R"(["abcde"])", limits));
  EXPECT_EQ(error_of(R"(["abcdef"])", limits), "the JSON has a string longer than 5 bytes");
  EXPECT_EQ(error_of(R"({"abcdef":1})", limits), "the JSON has a string longer than 5 bytes");
  // Escapes count as what they decode to.
  EXPECT_NO_THROW(parse_json_bounded(R"(["\u00e9\u00e9"])", limits));
}

// The default limits stop a body of tiny values long before it is parsed to the end.
TEST(JsonBounded, ManyTinyValuesAreRefusedEarly) {
  std::string text = "[";
  for (int i = 0; i < 2000000; ++i) text += "{},";
  text += "{}]";
  EXPECT_EQ(error_of(text), "the JSON has more than 10000 values");
  std::string deep(1000000, '[');
  EXPECT_EQ(error_of(deep), "the JSON nests deeper than 32 levels");
}

}  // namespace
}  // namespace sd::io
