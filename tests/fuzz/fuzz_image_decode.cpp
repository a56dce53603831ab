// PNG and JPEG decoding of uploaded bytes, as RGB, as a luminance mask and as RGBA (the
// alpha of OpenAI edit masks), and the PNG text-chunk reader. A pixel limit of 2^20 keeps
// each run fast; the size checks against the limit are what is exercised, not its value.
#include <cstdlib>

#include "core/error.h"
#include "io/image.h"

namespace {

constexpr size_t kMaxPixels = size_t(1) << 20;

void check(const sd::io::Image& img, int channels) {
  if (img.width <= 0 || img.height <= 0 || img.channels != channels ||
      size_t(img.width) * size_t(img.height) > kMaxPixels ||
      img.pixels.size() != size_t(img.width) * size_t(img.height) * size_t(channels))
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int channels : {3, 1, 4}) {
    try {
      check(sd::io::decode_image(data, size, channels, kMaxPixels), channels);
    } catch (const sd::Error&) {
    }
  }
  try {
    sd::io::read_png_text(data, size, kMaxPixels);
  } catch (const sd::Error&) {
  }
  return 0;
}
