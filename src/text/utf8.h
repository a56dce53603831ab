#pragma once
// UTF-8 <-> code points for prompt text. Prompts are untrusted bytes: decoding never fails,
// it replaces each ill-formed part with U+FFFD exactly as Python's
// bytes.decode("utf-8", errors="replace") does, so a prompt tokenizes as it would in diffusers
// after that decode.
#include <string>
#include <string_view>

namespace sd::text {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes `bytes`, replacing every maximal ill-formed subpart (the Unicode "best practice"
// Python follows) with one U+FFFD: a stray continuation byte, a lead byte that can never start
// a sequence (C0, C1, F5..FF), an overlong form, a UTF-16 surrogate (ED A0..BF ..), a code
// point above U+10FFFF, or a sequence cut short.
std::u32string decode_utf8_lossy(std::string_view bytes);

// Appends the UTF-8 form of `cp` (a Unicode scalar value: no surrogates, at most U+10FFFF).
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);

}  // namespace sd::text
