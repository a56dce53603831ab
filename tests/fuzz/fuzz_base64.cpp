// base64_decode on arbitrary text (data: URLs, whitespace, padding) with a size limit
// taken from the input; what decodes must encode back to the same symbols.
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t max_bytes = data[0] < 128 ? SIZE_MAX : data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<uint8_t> bytes;
  try {
    bytes = sd::io::base64_decode(text, max_bytes);
  } catch (const sd::Error&) {
    return 0;
  }
  if (bytes.size() > max_bytes) std::abort();
  const std::string encoded = sd::io::base64_encode(bytes);
  if (sd::io::base64_decode(encoded) != bytes) std::abort();
  return 0;
}
