#pragma once
// multipart/form-data bodies (RFC 7578), as browsers and HTTP client libraries send file
// uploads. The body is untrusted and already bounded in size by the HTTP server; the parser
// bounds what it adds (parts, header bytes per part), copies no part's data, and reports
// any malformed input as sd::Error.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sd::io {

struct MultipartLimits {
  size_t max_parts = 64;
  size_t max_part_header_bytes = 8192;  // the header lines of one part, together
};

struct FormPart {
  std::string name;                     // Content-Disposition's name
  std::optional<std::string> filename;  // set for a file upload (maybe empty)
  std::string content_type;             // as sent; empty when absent
  std::string_view data;                // into the body: valid while the body is
};

// The boundary of a "multipart/form-data; boundary=..." Content-Type value (type and
// parameter names case-insensitive, the value a token or a quoted string). Throws
// sd::Error for another media type or a missing or malformed boundary (RFC 2046: 1 to 70
// characters of its set, not ending in a space).
std::string multipart_boundary(std::string_view content_type);

// The parts in body order. A preamble before the first boundary and an epilogue after the
// last are ignored; every part needs a Content-Disposition of form-data with a name.
std::vector<FormPart> parse_multipart_form(std::string_view body, std::string_view boundary,
                                           const MultipartLimits& limits = {});

}  // namespace sd::io
