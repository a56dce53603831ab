// A1111 emphasis syntax on arbitrary prompt bytes: brackets, weights, escapes, BREAK.
// Every weight that comes out must be a finite number.
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "text/prompt_attention.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto pieces = sd::text::parse_prompt_attention(std::string_view(reinterpret_cast<const char*>(data), size));
    for (const auto& p : pieces)
      if (!std::isfinite(p.weight) || (p.is_break && !p.text.empty())) std::abort();
  } catch (const sd::Error&) {
  }
  return 0;
}
