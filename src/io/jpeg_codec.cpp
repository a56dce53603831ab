// JPEG decoding of untrusted bytes through libjpeg(-turbo). libjpeg reports fatal errors
// by calling error_exit, which by default calls exit(); here it longjmps back to the
// function that called into libjpeg, which turns it into sd::Error.
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstring>

// jpeglib.h needs size_t and FILE declared before it, and jerror.h needs jpeglib.h.
#include <jpeglib.h>
#include <jerror.h>

#include "core/error.h"
#include "io/image_codecs.h"

namespace sd::io::detail {

namespace {

// libjpeg-turbo's recommended guard against progressive files with thousands of tiny
// scans, which take minutes of CPU while staying small.
constexpr int kMaxScans = 500;
// Working memory libjpeg may use (coefficient buffers of progressive images).
constexpr long kMaxWorkingMemory = 1l << 30;

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void fail(j_common_ptr cinfo, const char* why) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  std::snprintf(err->message, sizeof(err->message), "%s", why);
  std::longjmp(err->jump, 1);
}

void on_error_exit(j_common_ptr cinfo) {
  char buf[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buf);
  fail(cinfo, buf);
}

// Warnings (level -1) report corrupt data that libjpeg works around by inventing pixels.
// Image data that ends early, at the end of the bytes or at a marker (a file declaring
// more rows than it holds), is an error; other corrupt-data warnings are tolerated
// silently, as in PIL.
void on_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) fail(cinfo, "truncated (unexpected end of data)");
  if (cinfo->err->msg_code == JWRN_HIT_MARKER) fail(cinfo, "truncated (image data ends before the last row)");
}

void on_progress(j_common_ptr cinfo) {
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxScans) fail(cinfo, "too many progressive scans");
}

// The libjpeg state for one decode; destroyed on every path out.
struct Decoder {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  jpeg_progress_mgr progress{};
  bool created = false;
  ~Decoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// The two functions below hold setjmp: nothing with a destructor may be created in
// them between setjmp and the libjpeg calls that may longjmp back.

bool read_header(Decoder& d, const uint8_t* data, size_t size) {
  d.cinfo.err = jpeg_std_error(&d.err.pub);
  d.err.pub.error_exit = on_error_exit;
  d.err.pub.emit_message = on_emit_message;
  if (setjmp(d.err.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  d.created = true;
  d.progress.progress_monitor = on_progress;
  d.cinfo.progress = &d.progress;
  d.cinfo.mem->max_memory_to_use = kMaxWorkingMemory;
  jpeg_mem_src(&d.cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&d.cinfo, TRUE);
  const bool cmyk = d.cinfo.jpeg_color_space == JCS_CMYK || d.cinfo.jpeg_color_space == JCS_YCCK;
  d.cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg turns grey and YCbCr into RGB
  return true;
}

// Decodes into `out` (rows of output_components bytes per pixel, already sized).
bool read_pixels(Decoder& d, uint8_t* out, size_t row_bytes) {
  if (setjmp(d.err.jump)) return false;
  jpeg_start_decompress(&d.cinfo);
  if (size_t(d.cinfo.output_width) * size_t(d.cinfo.output_components) != row_bytes)
    fail(reinterpret_cast<j_common_ptr>(&d.cinfo), "unexpected output layout");
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    JSAMPROW row = out + size_t(d.cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&d.cinfo, &row, 1);
  }
  // Not jpeg_finish_decompress: every pixel is in, and what follows the last scan
  // (a missing EOI marker, trailing bytes) does not matter.
  return true;
}

}  // namespace

ImageSize jpeg_image_size(const uint8_t* data, size_t size) {
  Decoder d;
  if (!read_header(d, data, size)) throw Error(std::string("JPEG image: ") + d.err.message);
  return {int64_t(d.cinfo.image_width), int64_t(d.cinfo.image_height)};
}

Image decode_jpeg_rgb(const uint8_t* data, size_t size, size_t max_pixels) {
  Decoder d;
  if (!read_header(d, data, size)) throw Error(std::string("JPEG image: ") + d.err.message);
  check_image_size("JPEG", d.cinfo.image_width, d.cinfo.image_height, max_pixels);
  const bool cmyk = d.cinfo.out_color_space == JCS_CMYK;
  const size_t w = d.cinfo.image_width, h = d.cinfo.image_height;
  const size_t comps = cmyk ? 4 : 3;

  Image img;
  img.width = int(w);
  img.height = int(h);
  img.channels = 3;
  std::vector<uint8_t> decoded(w * h * comps);
  if (!read_pixels(d, decoded.data(), w * comps)) throw Error(std::string("JPEG image: ") + d.err.message);
  if (!cmyk) {
    img.pixels = std::move(decoded);
    return img;
  }
  // As PIL: every 4-component JPEG is read as Adobe's inverted CMYK (what Photoshop
  // writes; libjpeg stores the samples as found), then R = nk - C*nk/255 with nk = 255 - K,
  // rounded as PIL's MULDIV255.
  img.pixels.resize(w * h * 3);
  for (size_t i = 0; i < w * h; ++i) {
    const uint8_t* s = &decoded[i * 4];
    const int nk = s[3];
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - s[c]) * nk + 128;
      img.pixels[i * 3 + c] = uint8_t(nk - (((t >> 8) + t) >> 8));
    }
  }
  return img;
}

}  // namespace sd::io::detail
