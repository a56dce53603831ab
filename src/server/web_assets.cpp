#include "server/web_assets.h"

namespace sd::server {

const WebAsset* find_web_asset(std::string_view path) {
  for (const auto& asset : web_assets())
    if (asset.path == path) return &asset;
  return nullptr;
}

bool accepts_html(std::string_view accept_header) {
  return accept_header.find("text/html") != std::string_view::npos;
}

bool is_public_asset_path(std::string_view path) {
  constexpr std::string_view kPrefix = "/assets/";
  return path.starts_with(kPrefix) && path.find('/', kPrefix.size()) == std::string_view::npos;
}

bool etag_matches(std::string_view if_none_match, const WebAsset& asset) {
  if (if_none_match.empty()) return false;
  if (if_none_match == "*") return true;
  // A list of quoted tags, maybe weak (W/"..."); the content is the same either way.
  return if_none_match.find(asset.etag) != std::string_view::npos;
}

std::optional<WebAnswer> answer_web_request(std::string_view path, std::string_view if_none_match) {
  const WebAsset* asset = find_web_asset(path);
  if (!asset) return std::nullopt;
  WebAnswer answer;
  answer.content_type = asset->content_type;
  // Revalidated on every load, so a new worker binary's page is never mixed with an old one's.
  answer.headers = {{"ETag", asset->etag},
                    {"Cache-Control", "no-cache"},
                    {"X-Content-Type-Options", "nosniff"},
                    {"Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data: blob:; base-uri 'none'; frame-ancestors 'none'"}};
  if (etag_matches(if_none_match, *asset))
    answer.status = 304;
  else
    answer.body = asset->bytes;
  return answer;
}

}  // namespace sd::server
