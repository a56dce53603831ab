// WebP encoding through libwebp (lossy, as A1111 saves WebP by default), with the EXIF
// block as a chunk of the extended format, assembled by libwebpmux.
#include <memory>

#include <webp/encode.h>
#include <webp/mux.h>

#include "core/error.h"
#include "io/image_encoders.h"

namespace sd::io::detail {

namespace {

constexpr int kMaxSide = WEBP_MAX_DIMENSION;

struct MuxDeleter {
  void operator()(WebPMux* m) const { WebPMuxDelete(m); }
};
struct WebPBytesDeleter {
  void operator()(uint8_t* p) const { WebPFree(p); }
};

}  // namespace

std::vector<uint8_t> encode_webp(const Image& img, int quality, const std::vector<uint8_t>& exif) {
  if (img.width <= 0 || img.height <= 0 || img.width > kMaxSide || img.height > kMaxSide)
    throw Error("WebP: cannot encode an image of " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                " (at most " + std::to_string(kMaxSide) + " a side)");
  if (img.pixels.size() != size_t(img.width) * size_t(img.height) * size_t(img.channels))
    throw Error("WebP: the pixel buffer does not match the image size");
  const uint8_t* pixels = img.pixels.data();
  std::vector<uint8_t> rgb;
  if (img.channels == 1) {
    rgb.resize(img.pixels.size() * 3);
    for (size_t i = 0; i < img.pixels.size(); ++i) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = img.pixels[i];
    pixels = rgb.data();
  } else if (img.channels != 3 && img.channels != 4) {
    throw Error("WebP: cannot encode " + std::to_string(img.channels) + " channels");
  }
  const int channels = img.channels == 4 ? 4 : 3;
  uint8_t* out = nullptr;
  const size_t size = channels == 4
                          ? WebPEncodeRGBA(pixels, img.width, img.height, img.width * 4, float(quality), &out)
                          : WebPEncodeRGB(pixels, img.width, img.height, img.width * 3, float(quality), &out);
  std::unique_ptr<uint8_t, WebPBytesDeleter> bitstream(out);
  if (size == 0) throw Error("WebP: encoding failed");
  if (exif.empty()) return std::vector<uint8_t>(out, out + size);

  std::unique_ptr<WebPMux, MuxDeleter> mux(WebPMuxNew());
  if (!mux) throw Error("WebP: out of memory");
  const WebPData image{out, size};
  const WebPData chunk{exif.data(), exif.size()};
  if (WebPMuxSetImage(mux.get(), &image, 0) != WEBP_MUX_OK || WebPMuxSetChunk(mux.get(), "EXIF", &chunk, 0) != WEBP_MUX_OK)
    throw Error("WebP: cannot add the EXIF chunk");
  WebPData assembled{nullptr, 0};
  if (WebPMuxAssemble(mux.get(), &assembled) != WEBP_MUX_OK) throw Error("WebP: cannot assemble the file");
  std::vector<uint8_t> file(assembled.bytes, assembled.bytes + assembled.size);
  WebPDataClear(&assembled);
  return file;
}

}  // namespace sd::io::detail
