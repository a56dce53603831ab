#pragma once
// Bearer-token authentication for the worker's routes.
#include <string_view>

namespace sd::server {

// Compares without an early exit, so the time taken says nothing about how much of a
// guess was right (only the length of the expected token shapes the loop).
bool constant_time_equal(std::string_view expected, std::string_view given);

// True when `authorization` is "Bearer <token>" (scheme case-insensitive) for this token.
bool bearer_token_matches(std::string_view authorization, std::string_view token);

}  // namespace sd::server
