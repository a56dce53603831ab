#include "io/multipart_form.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace sd::io {

namespace {

constexpr size_t kMaxBoundary = 70;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 7230 token characters: header names, media types, parameter names and bare values.
bool is_token_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 2046 bchars.
bool is_boundary_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return s.size() > 40 ? out + "..." : out;
}

// "type; a=b; c=\"d\"" split at the semicolons outside quoted strings into the leading
// value and its parameters (names lowercased). `what` names the header in errors.
struct HeaderValue {
  std::string value;
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* param(std::string_view name) const {
    for (const auto& [k, v] : params)
      if (k == name) return &v;
    return nullptr;
  }
};

HeaderValue parse_header_value(std::string_view text, const char* what) {
  HeaderValue out;
  size_t pos = text.find(';');
  out.value = std::string(trim(text.substr(0, pos)));
  while (pos != std::string_view::npos && pos < text.size()) {
    ++pos;  // past ';'
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (pos == text.size()) break;  // a trailing ';'
    size_t eq = pos;
    while (eq < text.size() && is_token_char(text[eq])) ++eq;
    if (eq == pos || eq == text.size() || text[eq] != '=')
      throw Error(std::string(what) + ": malformed parameter in \"" + shown(text) + "\"");
    std::string name(text.substr(pos, eq - pos));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    pos = eq + 1;
    std::string value;
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      bool closed = false;
      while (pos < text.size()) {
        char c = text[pos++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && pos < text.size()) c = text[pos++];
        value += c;
      }
      if (!closed) throw Error(std::string(what) + ": unterminated quoted string in \"" + shown(text) + "\"");
    } else {
      size_t end = pos;
      while (end < text.size() && is_token_char(text[end])) ++end;
      value = std::string(text.substr(pos, end - pos));
      pos = end;
    }
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (pos < text.size() && text[pos] != ';')
      throw Error(std::string(what) + ": malformed parameter in \"" + shown(text) + "\"");
    out.params.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

// The header lines of part `index` (without the blank line ending them).
FormPart parse_part_headers(std::string_view headers, size_t index) {
  const std::string where = "multipart part " + std::to_string(index + 1);
  if (headers.find("\r\n ") != std::string_view::npos || headers.find("\r\n\t") != std::string_view::npos)
    throw Error(where + ": folded header lines are not accepted");
  FormPart part;
  bool has_disposition = false;
  size_t pos = 0;
  while (pos < headers.size()) {
    size_t end = headers.find("\r\n", pos);
    if (end == std::string_view::npos) end = headers.size();
    std::string_view line = headers.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        !std::all_of(line.begin(), line.begin() + long(colon), is_token_char))
      throw Error(where + ": malformed header line \"" + shown(line) + "\"");
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Disposition")) {
      if (has_disposition) throw Error(where + ": more than one Content-Disposition");
      has_disposition = true;
      HeaderValue v = parse_header_value(value, (where + " Content-Disposition").c_str());
      if (!iequals(v.value, "form-data"))
        throw Error(where + ": Content-Disposition is \"" + shown(v.value) + "\", not form-data");
      const std::string* field = v.param("name");
      if (!field) throw Error(where + ": Content-Disposition has no name");
      part.name = *field;
      if (const std::string* file = v.param("filename")) part.filename = *file;
    } else if (iequals(name, "Content-Type")) {
      part.content_type = std::string(value);
    }
  }
  if (!has_disposition) throw Error(where + ": no Content-Disposition header");
  return part;
}

}  // namespace

std::string multipart_boundary(std::string_view content_type) {
  HeaderValue v = parse_header_value(content_type, "Content-Type");
  if (!iequals(v.value, "multipart/form-data"))
    throw Error("Content-Type is \"" + shown(v.value) + "\", not multipart/form-data");
  const std::string* boundary = v.param("boundary");
  if (!boundary || boundary->empty()) throw Error("Content-Type multipart/form-data has no boundary");
  if (boundary->size() > kMaxBoundary || boundary->back() == ' ' ||
      !std::all_of(boundary->begin(), boundary->end(), is_boundary_char))
    throw Error("Content-Type: malformed multipart boundary \"" + shown(*boundary) + "\"");
  return *boundary;
}

std::vector<FormPart> parse_multipart_form(std::string_view body, std::string_view boundary,
                                           const MultipartLimits& limits) {
  if (boundary.empty()) throw Error("multipart body: empty boundary");
  const std::string dash_boundary = "--" + std::string(boundary);
  const std::string delimiter = "\r\n" + dash_boundary;
  // The searches are linear: a boundary holds no CR, so candidate matches cannot overlap.
  size_t pos;
  if (body.substr(0, dash_boundary.size()) == dash_boundary) {
    pos = dash_boundary.size();
  } else {
    size_t at = body.find(delimiter);
    if (at == std::string_view::npos) throw Error("multipart body: the boundary never occurs");
    pos = at + delimiter.size();
  }
  std::vector<FormPart> parts;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // the close delimiter; the epilogue is ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") throw Error("multipart body: a boundary line does not end after the boundary");
    pos += 2;
    if (parts.size() == limits.max_parts)
      throw Error("multipart body: more than " + std::to_string(limits.max_parts) + " parts");
    size_t content;
    std::string_view headers;
    if (body.substr(pos, 2) == "\r\n") {
      content = pos + 2;  // no header lines
    } else {
      std::string_view window = body.substr(pos, limits.max_part_header_bytes + 4);
      size_t end = window.find("\r\n\r\n");
      if (end == std::string_view::npos)
        throw Error("multipart part " + std::to_string(parts.size() + 1) + ": headers " +
                    (window.size() < limits.max_part_header_bytes + 4
                         ? std::string("not terminated")
                         : "over " + std::to_string(limits.max_part_header_bytes) + " bytes"));
      headers = window.substr(0, end);
      content = pos + end + 4;
    }
    FormPart part = parse_part_headers(headers, parts.size());
    size_t next = body.find(delimiter, content);
    if (next == std::string_view::npos)
      throw Error("multipart part " + std::to_string(parts.size() + 1) + " (\"" + shown(part.name) +
                  "\"): no boundary after its data (the body is cut short)");
    part.data = body.substr(content, next - content);
    parts.push_back(std::move(part));
    pos = next + delimiter.size();
  }
}

}  // namespace sd::io
