// multipart/form-data uploads (POST /v1/images/edits): the input is a Content-Type value,
// a newline, then the body. Whatever parses must lie inside the body, stay within the
// limits, and come back the same when written out again and parsed a second time.
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/multipart_form.h"

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string serialize(const std::vector<sd::io::FormPart>& parts, const std::string& boundary) {
  std::string out;
  for (const auto& p : parts) {
    out += "--" + boundary + "\r\nContent-Disposition: form-data; name=" + quoted(p.name);
    if (p.filename) out += "; filename=" + quoted(*p.filename);
    out += "\r\n";
    if (!p.content_type.empty()) out += "Content-Type: " + p.content_type + "\r\n";
    out += "\r\n";
    out.append(p.data);
    out += "\r\n";
  }
  return out + "--" + boundary + "--\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string_view body = input.substr(newline + 1);
  const sd::io::MultipartLimits limits{8, 256};
  std::string boundary;
  std::vector<sd::io::FormPart> parts;
  try {
    boundary = sd::io::multipart_boundary(input.substr(0, newline));
    parts = sd::io::parse_multipart_form(body, boundary, limits);
  } catch (const sd::Error&) {
    return 0;
  }
  if (parts.size() > limits.max_parts) std::abort();
  for (const auto& p : parts) {
    if (p.data.data() < body.data() || p.data.data() + p.data.size() > body.data() + body.size()) std::abort();
    if (p.name.size() > limits.max_part_header_bytes) std::abort();
  }
  const std::string again = serialize(parts, boundary);
  std::vector<sd::io::FormPart> reparsed;
  try {
    reparsed = sd::io::parse_multipart_form(again, boundary, {limits.max_parts, 4 * limits.max_part_header_bytes + 100});
  } catch (const sd::Error&) {
    std::abort();
  }
  if (reparsed.size() != parts.size()) std::abort();
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& a = parts[i];
    const auto& b = reparsed[i];
    if (a.name != b.name || a.filename != b.filename || a.content_type != b.content_type || a.data != b.data)
      std::abort();
  }
  return 0;
}
