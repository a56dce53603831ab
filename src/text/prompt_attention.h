#pragma once
// AUTOMATIC1111's prompt emphasis syntax (modules/prompt_parser.py, parse_prompt_attention):
//   (text) x1.1   ((text)) x1.21   [text] /1.1   (text:1.3) x1.3
//   \( \) \[ \] \\ literal brackets and backslash; a lone '\' is dropped
//   unbalanced '(' / '[' weight everything after them; unmatched ')' / ']' are literal text
//   BREAK (upper case, a whole word) ends the current 75-token chunk
// Adjacent pieces of equal weight are merged, as A1111 does, so a prompt without any of this
// syntax is one piece of weight 1 holding the whole text.
//
// Where A1111 would misbehave this parser differs, on purpose:
// - BREAK inside brackets still breaks (A1111 multiplies its -1 marker and tokenizes "break").
// - A weight that is not a number, e.g. "(a:1.2.3)", leaves ':' as text (A1111 raises).
// - Weight digits are ASCII only (Python's \d would take other decimal digits too).
// - A prompt whose brackets would cost more than 32M weight updates, or that produces a weight
//   that does not fit a float (1.1^1000), is rejected with sd::Error instead of running for
//   minutes or producing inf.
#include <string>
#include <string_view>
#include <vector>

namespace sd::text {

struct PromptPiece {
  std::string text;  // UTF-8; empty for a break
  double weight = 1.0;
  bool is_break = false;
};

std::vector<PromptPiece> parse_prompt_attention(std::string_view prompt);

}  // namespace sd::text
