// JPEG encoding through libjpeg(-turbo), with an optional EXIF APP1 segment. Encoder
// errors (only out-of-memory in practice) longjmp back, as in jpeg_codec.cpp.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <jpeglib.h>

#include "core/error.h"
#include "io/image_encoders.h"

namespace sd::io::detail {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// The libjpeg state and its output buffer (malloc'ed by jpeg_mem_dest); freed on every path.
struct Encoder {
  jpeg_compress_struct cinfo{};
  ErrorManager err{};
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  bool created = false;
  ~Encoder() {
    if (created) jpeg_destroy_compress(&cinfo);
    std::free(out);
  }
};

// Holds setjmp: nothing with a destructor is created between it and the libjpeg calls.
bool compress(Encoder& e, const Image& img, const uint8_t* pixels, int components, int quality,
              const std::vector<uint8_t>& exif) {
  e.cinfo.err = jpeg_std_error(&e.err.pub);
  e.err.pub.error_exit = on_error_exit;
  if (setjmp(e.err.jump)) return false;
  jpeg_create_compress(&e.cinfo);
  e.created = true;
  jpeg_mem_dest(&e.cinfo, &e.out, &e.out_size);
  e.cinfo.image_width = JDIMENSION(img.width);
  e.cinfo.image_height = JDIMENSION(img.height);
  e.cinfo.input_components = components;
  e.cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&e.cinfo);
  jpeg_set_quality(&e.cinfo, quality, TRUE);
  e.cinfo.write_JFIF_header = exif.empty() ? TRUE : FALSE;
  jpeg_start_compress(&e.cinfo, TRUE);
  if (!exif.empty()) jpeg_write_marker(&e.cinfo, JPEG_APP0 + 1, exif.data(), unsigned(exif.size()));
  const size_t row_bytes = size_t(img.width) * size_t(components);
  while (e.cinfo.next_scanline < e.cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels + size_t(e.cinfo.next_scanline) * row_bytes);
    jpeg_write_scanlines(&e.cinfo, &row, 1);
  }
  jpeg_finish_compress(&e.cinfo);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_jpeg(const Image& img, int quality, const std::vector<uint8_t>& exif) {
  // A marker's length field counts itself: 65533 bytes of payload at most.
  if (exif.size() > 65533)
    throw Error("JPEG: the metadata (" + std::to_string(exif.size()) + " bytes of EXIF) exceeds the 65533 bytes "
                "one segment holds");
  if (img.width <= 0 || img.height <= 0 || img.width > 65500 || img.height > 65500)
    throw Error("JPEG: cannot encode an image of " + std::to_string(img.width) + "x" + std::to_string(img.height));
  if (img.pixels.size() != size_t(img.width) * size_t(img.height) * size_t(img.channels))
    throw Error("JPEG: the pixel buffer does not match the image size");
  const uint8_t* pixels = img.pixels.data();
  int components = img.channels;
  std::vector<uint8_t> rgb;
  if (img.channels == 4) {
    // JPEG has no alpha: dropped, as A1111 converts RGBA to RGB before saving one.
    const size_t n = size_t(img.width) * size_t(img.height);
    rgb.resize(n * 3);
    for (size_t i = 0; i < n; ++i) std::memcpy(&rgb[i * 3], &img.pixels[i * 4], 3);
    pixels = rgb.data();
    components = 3;
  } else if (img.channels != 1 && img.channels != 3) {
    throw Error("JPEG: cannot encode " + std::to_string(img.channels) + " channels");
  }
  Encoder e;
  if (!compress(e, img, pixels, components, quality, exif)) throw Error(std::string("JPEG: ") + e.err.message);
  return std::vector<uint8_t>(e.out, e.out + e.out_size);
}

}  // namespace sd::io::detail
