#pragma once
// JSON from untrusted bytes (request bodies) with hard bounds, checked while parsing so
// that no input costs more than linear time or more memory than a small multiple of its
// size: nesting depth, the number of values and the length of each string are limited,
// and numbers that do not fit a double (1e400) are refused rather than thrown later.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

namespace sd::io {

struct JsonLimits {
  int max_depth = 32;                 // arrays and objects inside each other
  size_t max_values = 10000;          // every scalar, array, object and key counts once
  size_t max_string_bytes = 64 << 20; // per string or key, after unescaping
};

// Parses `text`; throws sd::Error naming the problem ("the JSON nests deeper than 32
// levels", "not valid JSON: parse error at line 1, column 9: ..."), never quoting more
// of the input than a short token.
nlohmann::json parse_json_bounded(std::string_view text, const JsonLimits& limits = {});

}  // namespace sd::io
