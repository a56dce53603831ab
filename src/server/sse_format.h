#pragma once
// Server-Sent Events framing (worker-api.md section 3): named events whose data is one
// JSON object, the end markers, and the keep-alive comment.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sd::server {

// "event: <name>\ndata: <json>\n\n", the JSON carrying "type" and "event" both equal to
// <name>: clients that read `data:` lines alone tell the events apart by either field.
std::string sse_event(std::string_view name, nlohmann::json data);
// "data: <text>\n\n" for the end markers; line breaks in text become spaces.
std::string sse_data(std::string_view text);
// ": <text>\n\n", ignored by clients, keeps proxies and idle connections open.
std::string sse_comment(std::string_view text);
// The JSON text of an sse_event() message.
std::string_view sse_event_data(std::string_view message);

inline constexpr std::string_view kDoneMarker = "[DONE]";
inline constexpr std::string_view kCancelledMarker = "[CANCELLED]";
// "[ERROR] <message>"
std::string error_marker(std::string_view message);

}  // namespace sd::server
