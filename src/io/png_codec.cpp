// PNG through libspng: encoding with text chunks, decoding untrusted bytes to RGB8, and
// reading the text chunks back.
#include <spng.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "core/error.h"
#include "io/image.h"
#include "io/image_codecs.h"

namespace sd::io {

namespace {

using SpngCtx = std::unique_ptr<spng_ctx, decltype(&spng_ctx_free)>;

// Decompressed zTXt/iTXt/iCCP/eXIf chunks together may take this much memory: a small
// compressed chunk must not expand into gigabytes. Beyond it decoding fails, as PIL's
// does past its MAX_TEXT_MEMORY.
constexpr size_t kChunkCacheLimit = size_t(16) << 20;

std::string spng_message(int err) {
  if (err == SPNG_IO_EOF) return "truncated (unexpected end of data)";
  return spng_strerror(err);
}

void check(int err, const char* what) {
  if (err) throw Error(std::string("PNG image: ") + what + ": " + spng_message(err));
}

// A decoder over `data` that refuses bad checksums and bounds chunk memory.
SpngCtx open_decoder(const uint8_t* data, size_t size) {
  SpngCtx ctx(spng_ctx_new(0), spng_ctx_free);
  if (!ctx) throw Error("PNG image: out of memory");
  check(spng_set_png_buffer(ctx.get(), data, size), "reading");
  check(spng_set_crc_action(ctx.get(), SPNG_CRC_ERROR, SPNG_CRC_DISCARD), "setting up");
  // (The chunk size limit does not apply to image data, only to chunks spng keeps.)
  check(spng_set_chunk_limits(ctx.get(), kChunkCacheLimit, kChunkCacheLimit), "setting up");
  return ctx;
}

spng_ihdr read_header(spng_ctx* ctx, size_t max_pixels) {
  spng_ihdr ihdr{};
  check(spng_get_ihdr(ctx, &ihdr), "reading the header");
  detail::check_image_size("PNG", ihdr.width, ihdr.height, max_pixels);
  return ihdr;
}

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one.
size_t utf8_sequence_length(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return uint8_t(s[k]); };
  const uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool is_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

// Invalid sequences become U+FFFD, so that what a file holds can go into JSON.
std::string sanitize_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string latin1_to_utf8(const char* p, size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = uint8_t(p[i]);
    if (c < 0x80) {
      out += char(c);
    } else {
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
    }
  }
  return out;
}

void check_keyword(const std::string& key) {
  bool ok = !key.empty() && key.size() <= 79 && key.front() != ' ' && key.back() != ' ' &&
            key.find("  ") == std::string::npos;
  for (unsigned char c : key) ok = ok && c >= 0x20 && c <= 0x7E;
  if (!ok)
    throw Error("PNG text key \"" + sanitize_utf8(key) +
                "\" must be 1-79 printable ASCII characters without leading, trailing or double spaces");
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& img, const TextChunks& text) {
  uint8_t color_type;
  switch (img.channels) {
    case 1: color_type = SPNG_COLOR_TYPE_GRAYSCALE; break;
    case 3: color_type = SPNG_COLOR_TYPE_TRUECOLOR; break;
    case 4: color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA; break;
    default: throw Error("encode_png: " + std::to_string(img.channels) + " channels (1, 3 or 4 supported)");
  }
  constexpr int kMaxSide = std::numeric_limits<int32_t>::max();
  if (img.width <= 0 || img.height <= 0 || img.width > kMaxSide || img.height > kMaxSide)
    throw Error("encode_png: image of " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                " cannot be written");
  const size_t expected = size_t(img.width) * size_t(img.height) * size_t(img.channels);
  if (img.pixels.size() != expected)
    throw Error("encode_png: " + std::to_string(img.pixels.size()) + " bytes of pixels for a " +
                std::to_string(img.width) + "x" + std::to_string(img.height) + "x" +
                std::to_string(img.channels) + " image (" + std::to_string(expected) + " expected)");

  std::vector<spng_text> chunks(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto& [key, value] = text[i];
    check_keyword(key);
    if (value.find('\0') != std::string::npos)
      throw Error("PNG text \"" + key + "\": the value contains a NUL byte");
    if (!is_utf8(value)) throw Error("PNG text \"" + key + "\": the value is not valid UTF-8");
    spng_text& t = chunks[i];
    std::memcpy(t.keyword, key.c_str(), key.size() + 1);
    t.type = is_ascii(value) ? SPNG_TEXT : SPNG_ITXT;
    t.length = value.size();
    t.text = const_cast<char*>(value.c_str());  // spng only reads it
    t.language_tag = const_cast<char*>("");
    t.translated_keyword = const_cast<char*>("");
  }

  SpngCtx ctx(spng_ctx_new(SPNG_CTX_ENCODER), spng_ctx_free);
  if (!ctx) throw Error("encode_png: out of memory");
  auto ck = [](int err, const char* what) {
    if (err) throw Error(std::string("encode_png: ") + what + ": " + spng_strerror(err));
  };
  ck(spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1), "setting up");
  // zlib level 1: on a noisy 1024x1024 image 6x faster than the default 6 (0.2 s against
  // 1.25 s here) for 17 % more bytes; images are encoded for every response and preview.
  ck(spng_set_option(ctx.get(), SPNG_IMG_COMPRESSION_LEVEL, 1), "setting up");
  spng_ihdr ihdr{};
  ihdr.width = uint32_t(img.width);
  ihdr.height = uint32_t(img.height);
  ihdr.bit_depth = 8;
  ihdr.color_type = color_type;
  ck(spng_set_ihdr(ctx.get(), &ihdr), "header");
  if (!chunks.empty()) ck(spng_set_text(ctx.get(), chunks.data(), uint32_t(chunks.size())), "text chunks");
  ck(spng_encode_image(ctx.get(), img.pixels.data(), img.pixels.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE),
     "encoding");
  size_t len = 0;
  int err = 0;
  void* buf = spng_get_png_buffer(ctx.get(), &len, &err);
  ck(err, "encoding");
  std::unique_ptr<void, decltype(&std::free)> owned(buf, std::free);  // spng's default allocator
  const uint8_t* bytes = static_cast<const uint8_t*>(buf);
  return std::vector<uint8_t>(bytes, bytes + len);
}

TextChunks read_png_text(const uint8_t* data, size_t size, size_t max_pixels) {
  SpngCtx ctx = open_decoder(data, size);
  const spng_ihdr ihdr = read_header(ctx.get(), max_pixels);
  // Text may follow the image data; reaching it means decoding the rows, one at a time.
  check(spng_decode_image(ctx.get(), nullptr, 0, SPNG_FMT_RGB8, SPNG_DECODE_PROGRESSIVE), "decoding");
  std::vector<uint8_t> row(size_t(ihdr.width) * 3);
  int err;
  do {
    err = spng_decode_row(ctx.get(), row.data(), row.size());
  } while (err == 0);
  if (err != SPNG_EOI) check(err, "decoding");
  check(spng_decode_chunks(ctx.get()), "reading chunks after the image");

  uint32_t n = 0;
  err = spng_get_text(ctx.get(), nullptr, &n);
  if (err == SPNG_ECHUNKAVAIL) return {};
  check(err, "reading text");
  std::vector<spng_text> chunks(n);
  check(spng_get_text(ctx.get(), chunks.data(), &n), "reading text");
  TextChunks out;
  for (uint32_t i = 0; i < n; ++i) {
    const spng_text& t = chunks[i];
    std::string key = latin1_to_utf8(t.keyword, strnlen(t.keyword, sizeof(t.keyword)));
    std::string value = t.type == SPNG_ITXT ? sanitize_utf8(std::string(t.text, t.length))
                                            : latin1_to_utf8(t.text, t.length);
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

namespace detail {

namespace {
Image decode_png_as(const uint8_t* data, size_t size, size_t max_pixels, spng_format format, int channels) {
  SpngCtx ctx = open_decoder(data, size);
  const spng_ihdr ihdr = read_header(ctx.get(), max_pixels);
  size_t out_size = 0;
  check(spng_decoded_image_size(ctx.get(), format, &out_size), "decoding");
  Image img;
  img.width = int(ihdr.width);
  img.height = int(ihdr.height);
  img.channels = channels;
  img.pixels.resize(out_size);
  const int flags = channels == 4 ? SPNG_DECODE_TRNS : 0;
  check(spng_decode_image(ctx.get(), img.pixels.data(), out_size, format, flags), "decoding");
  // Read on to IEND: a file cut after its image data is truncated too, and the checksum
  // of its last data chunk is still to be verified.
  check(spng_decode_chunks(ctx.get()), "reading chunks after the image");
  return img;
}
}  // namespace

// RGB8 drops alpha and takes the high byte of 16-bit samples, as PIL's convert("RGB").
Image decode_png_rgb(const uint8_t* data, size_t size, size_t max_pixels) {
  return decode_png_as(data, size, max_pixels, SPNG_FMT_RGB8, 3);
}

// RGBA8 takes alpha from the alpha channel or a tRNS chunk, else opaque.
Image decode_png_rgba(const uint8_t* data, size_t size, size_t max_pixels) {
  return decode_png_as(data, size, max_pixels, SPNG_FMT_RGBA8, 4);
}

}  // namespace detail

}  // namespace sd::io
