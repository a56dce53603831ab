#pragma once
// Token authentication for the worker's routes: the bearer token, or HTTP Basic with the
// token as the password (AUTOMATIC1111 clients send Basic credentials, --api-auth user:pass).
#include <string_view>

namespace sd::server {

// Compares without an early exit, so the time taken says nothing about how much of a
// guess was right (only the length of the expected token shapes the loop).
bool constant_time_equal(std::string_view expected, std::string_view given);

// True when `authorization` is "Bearer <token>" (scheme case-insensitive) for this token.
bool bearer_token_matches(std::string_view authorization, std::string_view token);

// True when `authorization` is "Basic base64(user:password)" (scheme case-insensitive)
// with this token as the password, whatever the user name.
bool basic_password_matches(std::string_view authorization, std::string_view token);

// The one check every route behind the token uses: Bearer or Basic as above.
bool authorization_matches(std::string_view authorization, std::string_view token);

}  // namespace sd::server
