#include "pipeline/request_limits.h"

#include <algorithm>
#include <cstdio>

#include "pipeline/request_error.h"

namespace sd::pipeline {

void check_prompt(const std::string& field, const std::string& text) {
  if (text.size() > kMaxPromptBytes)
    throw RequestError(field, "must be at most " + std::to_string(kMaxPromptBytes) + " bytes, got " +
                                  std::to_string(text.size()));
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = uint8_t(text[i]);
    // C1 controls (U+0080..U+009F) are 0xC2 0x80..0x9F in UTF-8.
    const bool c1 = c == 0xC2 && i + 1 < text.size() && uint8_t(text[i + 1]) >= 0x80 && uint8_t(text[i + 1]) <= 0x9F;
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F || c1) {
      const unsigned code = c1 ? uint8_t(text[i + 1]) : c;
      char hex[8];
      std::snprintf(hex, sizeof hex, "U+%04X", code);
      throw RequestError(field, std::string("must not contain control characters; found ") + hex + " at byte " +
                                    std::to_string(i));
    }
  }
}

void check_input_image_size(const std::string& field, int64_t width, int64_t height) {
  const std::string dims = std::to_string(width) + "x" + std::to_string(height);
  if (width < 1 || height < 1) throw RequestError(field, "is an empty image (" + dims + ")");
  if (std::max(width, height) > kMaxInputImageSide)
    throw RequestError(field, "is " + dims + "; its sides must be at most " + std::to_string(kMaxInputImageSide) +
                                  " pixels");
  if (uint64_t(width) * uint64_t(height) > kMaxInputImagePixels)
    throw RequestError(field, "is " + dims + ", over the limit of " + std::to_string(kMaxInputImagePixels) + " pixels");
  if (std::max(width, height) > int64_t(kMaxInputImageAspect) * std::min(width, height))
    throw RequestError(field, "is " + dims + "; its aspect ratio must be at most " +
                                  std::to_string(kMaxInputImageAspect) + ":1");
}

io::Image decode_input_image(const std::string& field, const std::vector<uint8_t>& bytes, int channels) {
  try {
    const io::ImageSize size = io::read_image_size(bytes.data(), bytes.size());
    check_input_image_size(field, size.width, size.height);
    return io::decode_image(bytes.data(), bytes.size(), channels, kMaxInputImagePixels);
  } catch (const RequestError&) {
    throw;
  } catch (const Error& e) {
    throw RequestError(field, std::string("is not a PNG or JPEG image: ") + e.what());
  }
}

}  // namespace sd::pipeline
