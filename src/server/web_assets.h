#pragma once
// The browser page (web/), embedded into the binary at build time by
// cmake/embed_web_assets.cmake: its files by URL path, with content type and ETag.
// Serving them is the routes' business; these are the bytes and the rules for when a
// request wants them.
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace sd::server {

struct WebAsset {
  std::string_view path;          // "/" for index.html, "/assets/<name>" for the rest
  std::string_view content_type;
  std::string_view etag;          // quoted, from the content's hash
  std::span<const unsigned char> bytes;
};

// Every embedded file (the generated web_assets_data.cpp).
std::span<const WebAsset> web_assets();

// The file served at `path`, or nullptr.
const WebAsset* find_web_asset(std::string_view path);

// GET / answers the page to browsers and the health JSON to everyone else (hives, curl):
// true when the Accept header names text/html.
bool accepts_html(std::string_view accept_header);

// The page's own files under /assets/ are public: they hold no secrets, and a browser
// cannot add a bearer token to the requests that load them.
bool is_public_asset_path(std::string_view path);

// An If-None-Match header that names the asset's ETag (or "*").
bool etag_matches(std::string_view if_none_match, const WebAsset& asset);

// The answer to GET `path` of the page, independent of the HTTP library: 200 with the
// file, or 304 when `if_none_match` names its ETag; nullopt when there is no such file.
struct WebAnswer {
  int status = 200;
  std::string_view content_type;
  std::span<const unsigned char> body;  // empty for 304
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};
std::optional<WebAnswer> answer_web_request(std::string_view path, std::string_view if_none_match);

}  // namespace sd::server
