// read_parameters on arbitrary bytes: PNG text chunks, JPEG segments, WebP chunks and the
// EXIF structure inside them. Anything may be refused with sd::Error; nothing may crash,
// and what it finds must survive a round trip through the encoders.
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/image_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<std::string> text;
  try {
    text = sd::io::read_parameters(data, size);
  } catch (const sd::Error&) {
    return 0;
  }
  if (!text || text->empty() || text->size() > 4096) return 0;
  sd::io::Image img;
  img.width = img.height = 8;
  img.pixels.assign(8 * 8 * 3, 128);
  try {
    const auto jpeg = sd::io::encode_image(img, sd::io::ImageFormat::Jpeg, 80, *text);
    // UTF-8 that was valid comes back unchanged; invalid sequences become U+FFFD, which then
    // round-trip themselves.
    const auto once = sd::io::read_parameters(jpeg);
    if (!once) std::abort();
    const auto webp = sd::io::encode_image(img, sd::io::ImageFormat::Webp, 80, *once);
    if (sd::io::read_parameters(webp) != once) std::abort();
  } catch (const sd::Error&) {
    return 0;
  }
  return 0;
}
